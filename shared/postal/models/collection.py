"""The collection sequence: its steps, and the runs of a step for one invoice."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from postal.models.common import Identifier, Strict


class StepAction(StrEnum):
    EMAIL = "email"
    POST = "post"
    SMS = "sms"
    MANUAL_INTERVENTION = "manual_intervention"
    LETTER_TASK = "letter_task"


class CollectionStep(Strict):
    day_offset: int = Field(ge=-365, le=3650, description="Days after the invoice's due date")
    template_id: Identifier
    action: StepAction
    step_id: Identifier | None = Field(
        default=None,
        description="The step's identity across edits of the sequence (an invoice runs each step id once). "
        "Omitted: the template id, '-2', '-3'... for its later uses. Keep the ids GET returns when you edit.",
    )


class CollectionStepsIn(Strict):
    steps: list[CollectionStep] = Field(max_length=50)


class StepRunStatus(StrEnum):
    """One run of one collection step for one invoice."""

    CLAIMED = "claimed"  # claimed with the invoice's advance; pending until it finishes (reconciliation retries it)
    DONE = "done"
    GAVE_UP = "gave_up"  # kept failing: a person finishes it through a task


class StepOutcome(StrEnum):
    """How running one due invoice's next step went (the nightly job's counters)."""

    RAN = "ran"
    SKIPPED = "skipped"
    FAILED = "failed"

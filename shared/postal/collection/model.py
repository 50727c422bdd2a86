"""What the nightly runs take and report: the schedule's input, one org's run and the summary, the ports a run
acts through, and how a failure is written on a job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from postal.errors import DomainError


class NightlyInput(BaseModel):
    """What EventBridge Scheduler sends (the schedule's `Input`); `date` and `org_id` narrow a manual run."""

    model_config = ConfigDict(populate_by_name=True)

    job: Literal["nightly-collection", "nightly-reconciliation"]
    run_date: date | None = Field(default=None, alias="date")
    org_id: str | None = None
    fan_out: bool = Field(
        default=False,
        description="The schedule's run: one message per org on the collection queue, each org paged by "
        "`nightly_pages` (collection.fanout); without it the run is done in this invocation (a manual run of one org)",
    )


class OrgRun(BaseModel):
    org_id: str
    job_id: str
    due: int = 0
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    reindexed: int = Field(default=0, description="Open invoices whose next step moved with an edit of the steps")
    gave_up: list[str] = Field(default_factory=list, description="Runs reconciliation stopped retrying (task made)")
    error: str | None = Field(default=None, description="Why this org's run stopped (other orgs ran on)")


class NightlySummary(BaseModel):
    job: str
    run_date: date
    orgs: list[OrgRun] = Field(default_factory=list)


# send_letter(org_id, template_id, customer_id, invoice_id, idempotency_key) -> letter id
LetterSender = Callable[[str, str, str, str, str], str]


def failure_reason(exc: Exception) -> str:
    """What a job records about a failure: the domain error's code and message, else only the exception's type
    (an unexpected error's text may quote personal data)."""
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.message}"
    return f"unexpected_error: {type(exc).__name__}"

"""Jobs: long work with progress (the disconnect cascade, the nightly run, reconciliation)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobFailure(BaseModel):
    """One item a job could not do, and why (an org, an invoice's step, a reconciliation given up)."""

    reason: str
    invoice_id: str | None = None
    step_id: str | None = None
    task_id: str | None = None
    at: str


class Job(BaseModel):
    """A long job with progress (`done`/`total`), e.g. the disconnect cascade or one date's nightly run."""

    job_id: str
    org_id: str
    kind: str
    status: JobStatus
    done: int = 0
    total: int | None = None
    phase: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    started_at: str
    updated_at: str | None = None
    finished_at: str | None = None
    # Disconnect cascade: letters whose hand-over completed after the disconnect and that the provider would no
    # longer cancel (they are mailed; PRODUCT §2.3 says none should be: a person must know).
    submitted_after_disconnect: list[str] = Field(default_factory=list)
    firings: int | None = Field(default=None, description="Nightly runs: how many firings of that date ran")
    failures: list[JobFailure] = Field(default_factory=list, description="The first failures, with the reason")


class JobKind(StrEnum):
    DISCONNECT_CASCADE = "disconnect_cascade"
    NIGHTLY_COLLECTION = "nightly_collection"
    NIGHTLY_RECONCILIATION = "nightly_reconciliation"
    LETTER_RECONCILIATION = "letter_reconciliation"
    NIGHTLY_RUN = "nightly_run"


# The run-level job of a nightly fan-out (the sum of its orgs' jobs) is kept under this scope in place of an org
# id; no org id has this form (they are generated as `org_...`), and no org's API reads it.
RUN_SCOPE = "_nightly_runs"


class CascadePhase(StrEnum):
    """Where the disconnect cascade is (`Job.phase`)."""

    CUSTOMERS = "customers"
    LETTERS = "letters"
    SETTLING = "settling"
    DONE = "done"
    SUPERSEDED = "superseded"

"""Tasks: what a person must do (a manual intervention, a letter to print, an address to fix)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class TaskKind(StrEnum):
    MANUAL_INTERVENTION = "manual_intervention"
    LETTER_TASK = "letter_task"
    FIX_ADDRESS = "fix_address"
    STEP_FAILED = "step_failed"  # a collection step kept failing; reconciliation gave up on it


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class TaskQuery(BaseModel):
    """`GET .../tasks` filters: one status; created within [created_from, created_to] (dates or timestamps)."""

    status: TaskStatus = TaskStatus.OPEN
    kind: TaskKind | None = None
    customer_id: str | None = None
    created_from: str | None = None
    created_to: str | None = None


class Task(BaseModel):
    task_id: str
    org_id: str
    kind: TaskKind
    customer_id: str | None = None
    invoice_id: str | None = None
    template_id: str | None = None
    note: str | None = None
    status: TaskStatus = TaskStatus.OPEN
    created_at: str
    completed_at: str | None = None

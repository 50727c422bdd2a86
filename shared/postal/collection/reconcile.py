"""Nightly reconciliation: the step runs that were claimed but did not finish are done again (their actions are
idempotent), and a run that keeps failing is handed to a person."""

from __future__ import annotations

from datetime import date
from typing import Any

from postal.collection.model import LetterSender, OrgRun, failure_reason
from postal.collection.steps import execute_step, put_task_once, run_id
from postal.models import CollectionStep, Job, JobFailure, JobStatus, Task, TaskKind
from postal.ports import Publisher, Stores

MAX_ATTEMPTS = 3  # a step run that failed this often is handed to a person (a task) and no longer retried


def _give_up(stores: Stores, org_id: str, run: dict[str, Any], reason: str, now: str) -> str:
    """A run that failed MAX_ATTEMPTS times: a person takes over through a task; reconciliation stops."""
    invoice_id, step_id = str(run["invoice_id"]), str(run["step_id"])
    task_id = f"task_{invoice_id}_{step_id}_failed"
    put_task_once(
        stores,
        Task(
            task_id=task_id,
            org_id=org_id,
            kind=TaskKind.STEP_FAILED,
            invoice_id=invoice_id,
            template_id=str(run["step"]["template_id"]),
            note=f"collection step {step_id} failed {MAX_ATTEMPTS} times ({reason}); do it by hand or fix the data",
            created_at=now,
        ),
    )
    stores.collection.give_up_step_run(org_id, invoice_id, step_id, reason, task_id)
    return task_id


def reconcile_org(
    stores: Stores, events: Publisher, send_letter: LetterSender, org_id: str, today: date, now: str
) -> OrgRun:
    """Retry the step runs that were claimed but did not finish (their actions are idempotent); a run that keeps
    failing is given up after MAX_ATTEMPTS, reported on the job `reconciliation-{date}` with a task."""
    job_id = f"reconciliation-{today.isoformat()}"
    stores.jobs.start_firing(
        Job(
            job_id=job_id,
            org_id=org_id,
            kind="nightly_reconciliation",
            status=JobStatus.RUNNING,
            started_at=now,
            counts={"ran": 0, "failed": 0},
        ),
        now,
    )
    result = OrgRun(org_id=org_id, job_id=job_id)
    try:
        runs = stores.collection.pending_step_runs(org_id, limit=500)
        result.due = len(runs)
        stores.jobs.add_job_total(org_id, job_id, len(runs), now)
        for run in runs:
            outcome = _retry(stores, events, send_letter, org_id, job_id, run, result, now)
            stores.jobs.tick_job(org_id, job_id, outcome, now)
    except Exception as exc:  # one org's failure is recorded on its job; the other orgs run on
        return end_firing(stores, result, now, exc)
    return end_firing(stores, result, now)


def end_firing(stores: Stores, result: OrgRun, now: str, failure: Exception | None = None) -> OrgRun:
    """An org's firing ends: its failure, if any, is recorded on its job (the run goes on with the other orgs)."""
    if failure is not None:
        result.error = failure_reason(failure)
        stores.jobs.add_job_failure(result.org_id, result.job_id, JobFailure(reason=result.error, at=now))
    stores.jobs.finish_firing(result.org_id, result.job_id, now, failed=failure is not None)
    return result


def _retry(
    stores: Stores,
    events: Publisher,
    send_letter: LetterSender,
    org_id: str,
    job_id: str,
    run: dict[str, Any],
    result: OrgRun,
    now: str,
) -> str:
    """Do one pending step run again; how it went (ran or failed), counted on `result`."""
    invoice_id = str(run["invoice_id"])
    step = CollectionStep.model_validate(run["step"])
    try:
        invoice = stores.invoices.get_invoice(org_id, invoice_id)
        outcome = execute_step(stores, events, send_letter, org_id, invoice, step, now)
    except Exception as exc:  # counted, and given up after MAX_ATTEMPTS; never fatal
        reason = failure_reason(exc)
        result.failed += 1
        if stores.collection.fail_step_run(org_id, invoice_id, str(step.step_id), reason) >= MAX_ATTEMPTS:
            task_id = _give_up(stores, org_id, run, reason, now)
            result.gave_up.append(run_id(invoice_id, str(step.step_id)))
            stores.jobs.add_job_failure(
                org_id,
                job_id,
                JobFailure(reason=reason, invoice_id=invoice_id, step_id=step.step_id, task_id=task_id, at=now),
            )
        return "failed"
    stores.collection.finish_step_run(org_id, invoice_id, str(step.step_id), outcome)
    result.ran += 1
    return "ran"

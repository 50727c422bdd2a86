"""The nightly collection run: every org (or the one asked for), each org's due invoices, each invoice's step
claimed once and then done."""

from __future__ import annotations

from datetime import date

from pydantic import ValidationError

from postal.catalog import with_next_step
from postal.collection.model import LetterSender, NightlyInput, NightlySummary, OrgRun, failure_reason
from postal.collection.reconcile import end_firing, reconcile_org
from postal.collection.steps import current_steps, due_invoice_ids, execute_step, reindex, step_due
from postal.models import CollectionStep, Job, JobFailure, JobStatus
from postal.ports import Publisher, Stores


def _run_invoice(
    stores: Stores,
    events: Publisher,
    send_letter: LetterSender,
    org_id: str,
    job_id: str,
    invoice_id: str,
    steps: list[CollectionStep],
    today: date,
    now: str,
) -> str:
    """Run one due invoice's next step; how it went: ran, skipped or failed."""
    try:
        invoice = stores.invoices.get_invoice(org_id, invoice_id, consistent=True)
    except ValidationError as exc:  # stored before today's bounds: this invoice fails, the others run on
        stores.jobs.add_job_failure(
            org_id, job_id, JobFailure(reason=failure_reason(exc), invoice_id=invoice_id, at=now)
        )
        return "failed"
    step = step_due(invoice, steps, today)
    if step is None:
        target = with_next_step(invoice, steps)
        if (target.next_step_id, target.next_due) != (invoice.next_step_id, invoice.next_due):
            stores.invoices.set_next_step(org_id, invoice, target)  # the index lagged an edit of the steps
        return "skipped"
    step_id = str(step.step_id)
    advanced = with_next_step(
        invoice.model_copy(update={"steps_run": [*invoice.steps_run, step_id], "updated_at": now}), steps
    )
    run = {
        "org_id": org_id,
        "invoice_id": invoice_id,
        "step_id": step_id,
        "step": step.model_dump(mode="json", exclude_none=True),
        "status": "claimed",
        "claimed_at": now,
    }
    if not stores.collection.claim_step(org_id, invoice, advanced, run):
        return "skipped"  # this step already ran (a duplicate firing, a concurrent run, an edit of the steps)
    try:
        outcome = execute_step(stores, events, send_letter, org_id, invoice, step, now)
    except Exception as exc:  # one invoice's failure is recorded and never stops the others
        reason = failure_reason(exc)
        stores.collection.fail_step_run(org_id, invoice_id, step_id, reason)
        stores.jobs.add_job_failure(
            org_id, job_id, JobFailure(reason=reason, invoice_id=invoice_id, step_id=step_id, at=now)
        )
        return "failed"
    stores.collection.finish_step_run(org_id, invoice_id, step_id, outcome)
    return "ran"


def run_org(
    stores: Stores,
    events: Publisher,
    send_letter: LetterSender,
    org_id: str,
    today: date,
    now: str,
) -> OrgRun:
    """Run every due step of one org, by the steps as they are now. The job `nightly-{date}` shows done/total
    over every firing of that date."""
    job_id = f"nightly-{today.isoformat()}"
    stores.jobs.start_firing(
        Job(
            job_id=job_id,
            org_id=org_id,
            kind="nightly_collection",
            status=JobStatus.RUNNING,
            started_at=now,
            counts={"ran": 0, "skipped": 0, "failed": 0},
        ),
        now,
    )
    result = OrgRun(org_id=org_id, job_id=job_id)
    try:
        steps, updated_at = current_steps(stores, org_id)
        result.reindexed = reindex(stores, org_id, steps, updated_at)
        due = due_invoice_ids(stores, org_id, today)
        result.due = len(due)
        stores.jobs.add_job_total(org_id, job_id, len(due), now)
        for invoice_id in due:
            outcome = _run_invoice(stores, events, send_letter, org_id, job_id, invoice_id, steps, today, now)
            setattr(result, outcome, getattr(result, outcome) + 1)
            stores.jobs.tick_job(org_id, job_id, outcome, now)
    except Exception as exc:  # one org's failure is recorded on its job; the other orgs run on
        return end_firing(stores, result, now, exc)
    return end_firing(stores, result, now)


def run_nightly(
    stores: Stores, events: Publisher, send_letter: LetterSender, request: NightlyInput, today: date, now: str
) -> NightlySummary:
    """Every org (or the one asked for): collection or reconciliation, each org isolated from the others."""
    day = request.run_date or today
    summary = NightlySummary(job=request.job, run_date=day)
    org_ids = [request.org_id] if request.org_id else list(stores.orgs.iter_org_ids())
    for org_id in org_ids:
        if request.job == "nightly-collection":
            summary.orgs.append(run_org(stores, events, send_letter, org_id, day, now))
        else:
            summary.orgs.append(reconcile_org(stores, events, send_letter, org_id, day, now))
    return summary

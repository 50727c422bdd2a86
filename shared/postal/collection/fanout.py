"""The nightly run fanned out: the schedule starts one unit of work per org (a message on the collection queue),
and each message runs one bounded page of that org's due invoices, then enqueues the next page.

Jobs: each org has its job `nightly-{date}` (done/total over its pages, with ran, skipped and failed, letters,
tasks and events, skips by reason, and the first failures with their reason); each fan-out has one run-level
job (its `run_key`, under `RUN_SCOPE`) that sums them (`done`/`total` there count orgs). A page reads the org's
steps, org, integration and templates once, and its invoices and customers in one BatchGetItem each
(`page_cache`). Every claim records the run (`run_key`), so an invoice runs once per run even when its claimed
step moves `next_due` onto a date still inside the run and a later page meets it again. One org's failure, or
slowness, is its own: other orgs' messages run on their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from postal.catalog import with_next_step
from postal.collection.model import LetterSender, failure_reason
from postal.collection.page_cache import page_stores
from postal.collection.steps import current_steps, execute_step, reindex, step_due, step_task
from postal.errors import DomainError
from postal.models import CollectionStep, InvoiceRecord, Job, JobFailure, JobStatus, StepAction
from postal.models.jobs import RUN_SCOPE, JobKind
from postal.ports import Publisher, Sender, Stores


class CollectionPage(BaseModel):
    """One page of one org's nightly run (the collection queue's message)."""

    org_id: str
    run_date: date
    run_key: str  # this fan-out: recorded on every claim it makes
    cursor: str | None = None
    page: int = 0


class PageResult(BaseModel):
    due: int = 0
    counts: dict[str, int] = {}
    next: CollectionPage | None = None  # enqueue this for the org's next page
    error: str | None = None


def job_id_for(day: date) -> str:
    return f"nightly-{day.isoformat()}"


def start_run(
    stores: Stores, queue: Sender, org_ids: list[str], day: date, now: str, *, run_key: str | None = None
) -> tuple[str, int]:
    """Start the run of `day`: the run-level job, each org's job (one more firing of `nightly-{date}`) and one
    message per org. The run's key and how many orgs it started."""
    key = run_key or f"{job_id_for(day)}@{now}"
    job_id = job_id_for(day)
    stores.jobs.ensure_job(
        Job(
            job_id=key,
            org_id=RUN_SCOPE,
            kind=JobKind.NIGHTLY_RUN,
            status=JobStatus.RUNNING,
            total=len(org_ids),
            started_at=now,
            counts={"orgs": len(org_ids)},
        )
    )
    for org_id in org_ids:
        stores.jobs.start_firing(
            Job(
                job_id=job_id,
                org_id=org_id,
                kind=JobKind.NIGHTLY_COLLECTION,
                status=JobStatus.RUNNING,
                started_at=now,
                counts={"ran": 0, "skipped": 0, "failed": 0},
            ),
            now,
        )
        queue.send(CollectionPage(org_id=org_id, run_date=day, run_key=key))
    if not org_ids:
        stores.jobs.finish_job(RUN_SCOPE, key, now)
    return key, len(org_ids)


# The letter sender on a page's stores (the letters read the page's copy of the customer, template, org).
LettersOn = Callable[[Stores], LetterSender]


def run_page(
    stores: Stores, events: Publisher, letters_on: LettersOn, message: CollectionPage, page_size: int, now: str
) -> PageResult:
    """Run one page of an org's due invoices; `next` is the message for its following page (None: the org is done,
    its job and the run's job are finished)."""
    org_id, job_id = message.org_id, job_id_for(message.run_date)
    try:
        steps, updated_at = current_steps(stores, org_id)
        counts: Counter[str] = Counter()
        if message.page == 0:
            counts["reindexed"] = reindex(stores, org_id, steps, updated_at)
        ids, cursor = stores.invoices.due_invoice_ids(org_id, message.run_date.isoformat(), page_size, message.cursor)
        counts["due"] = len(ids)
        if ids:
            _run_invoices(stores, events, letters_on, message, job_id, ids, steps, counts, now)
    except (DomainError, ValidationError) as exc:  # the org's data: recorded on its job, the other orgs run on
        # Anything else (throttling, a timeout) is raised: SQS delivers the page again (its claims are once per
        # step and per run), and parks it on the DLQ after maxReceiveCount.
        reason = failure_reason(exc)
        stores.jobs.add_job_failure(org_id, job_id, JobFailure(reason=reason, at=now))
        stores.jobs.finish_firing(org_id, job_id, now, failed=True)
        _org_finished(stores, message.run_key, {"orgs_failed": 1}, now)
        return PageResult(error=reason)
    page_counts = {k: v for k, v in counts.items() if v}
    stores.jobs.add_job_counts(org_id, job_id, page_counts, now, done=len(ids), total=len(ids))
    result = PageResult(due=len(ids), counts=page_counts)
    if cursor:
        result.next = message.model_copy(update={"cursor": cursor, "page": message.page + 1})
        if page_counts:
            stores.jobs.add_job_counts(RUN_SCOPE, message.run_key, page_counts, now)
        return result
    stores.jobs.finish_firing(org_id, job_id, now)
    _org_finished(stores, message.run_key, page_counts, now)
    return result


def _org_finished(stores: Stores, run_key: str, counts: dict[str, int], now: str) -> None:
    """One org of the run is done (or failed): the run's job counts it, and completes with its last org."""
    done, total = stores.jobs.add_job_counts(RUN_SCOPE, run_key, counts, now, done=1)
    if total is not None and done >= total:
        stores.jobs.finish_job(RUN_SCOPE, run_key, now)


def _run_invoices(
    stores: Stores,
    events: Publisher,
    letters_on: LettersOn,
    message: CollectionPage,
    job_id: str,
    ids: list[str],
    steps: list[CollectionStep],
    counts: Counter[str],
    now: str,
) -> None:
    """Every invoice of one page, on the page's stores (one read of each record), counted on `counts`."""
    org_id = message.org_id
    invoices, unreadable = stores.invoices.get_invoices(org_id, ids, consistent=True)
    paged = page_stores(stores, org_id, invoices, stores.integrations.get_integration(org_id))
    send_letter = letters_on(paged)
    for invoice_id in ids:
        if invoice_id in unreadable:  # stored before today's bounds: this invoice fails, the others run on
            reason = failure_reason(unreadable[invoice_id])
            stores.jobs.add_job_failure(org_id, job_id, JobFailure(reason=reason, invoice_id=invoice_id, at=now))
            counts["failed"] += 1
            continue
        invoice = invoices.get(invoice_id)
        if invoice is None:  # deleted since the index was read
            counts.update(("skipped", "skipped_gone"))
            continue
        counts.update(_run_one(paged, events, send_letter, message, job_id, invoice, steps, now))


def _run_one(
    stores: Stores,
    events: Publisher,
    send_letter: LetterSender,
    message: CollectionPage,
    job_id: str,
    invoice: InvoiceRecord,
    steps: list[CollectionStep],
    now: str,
) -> list[str]:
    """Run one due invoice's next step; the counts it adds (ran, skipped or failed, and what it did or why not)."""
    org_id = message.org_id
    step = step_due(invoice, steps, message.run_date)
    if step is None:
        target = with_next_step(invoice, steps)
        if (target.next_step_id, target.next_due) != (invoice.next_step_id, invoice.next_due):
            stores.invoices.set_next_step(org_id, invoice, target)  # the index lagged an edit of the steps
        return ["skipped", "skipped_not_due"]
    step_id = str(step.step_id)
    advanced = with_next_step(
        invoice.model_copy(update={"steps_run": [*invoice.steps_run, step_id], "updated_at": now}), steps
    )
    run = _run_record(message, invoice, step, now)
    if step.action in (StepAction.MANUAL_INTERVENTION, StepAction.LETTER_TASK):
        task = step_task(org_id, invoice, step, now)
        done = {**run, "status": "done", "outcome": {"task_id": task.task_id}}
        claimed = stores.collection.claim_task_step(org_id, invoice, advanced, done, task, run_key=message.run_key)
        if claimed is not None:  # one transaction: the claim, the run done and the task
            return ["ran", "tasks"] if claimed else ["skipped", "skipped_claimed"]
        # The task exists already (opened by hand, say): the step is claimed and done as any other.
    if not stores.collection.claim_step(org_id, invoice, advanced, run, run_key=message.run_key):
        # The step already ran, or this run already claimed a step of this invoice (its next_due moved inside
        # the run), or the invoice closed meanwhile.
        return ["skipped", "skipped_claimed"]
    try:
        outcome = execute_step(stores, events, send_letter, org_id, invoice, step, now)
    except Exception as exc:  # one invoice's failure is recorded and never stops the others
        reason = failure_reason(exc)
        stores.collection.fail_step_run(org_id, invoice.invoice_id, step_id, reason)
        stores.jobs.add_job_failure(
            org_id, job_id, JobFailure(reason=reason, invoice_id=invoice.invoice_id, step_id=step_id, at=now)
        )
        return ["failed"]
    stores.collection.finish_step_run(org_id, invoice.invoice_id, step_id, outcome)
    return ["ran", *_did(outcome)]


def _run_record(message: CollectionPage, invoice: InvoiceRecord, step: CollectionStep, now: str) -> dict[str, Any]:
    """The step run a claim writes (keyed by the step's id), with the run that claimed it."""
    return {
        "org_id": message.org_id,
        "invoice_id": invoice.invoice_id,
        "step_id": str(step.step_id),
        "step": step.model_dump(mode="json", exclude_none=True),
        "status": "claimed",
        "claimed_at": now,
        "run_key": message.run_key,
    }


def _did(outcome: dict[str, Any]) -> list[str]:
    """What one step run did, as counts: letters, tasks, events (one per channel the AR platform sends on)."""
    did = ["letters"] if "letter_id" in outcome else []
    if "task_id" in outcome:
        did.append("tasks")
    if "blocked" in outcome:
        did.append("blocked")
    did.extend("events" for channel in outcome.get("channels", []) if channel != "post")
    return did

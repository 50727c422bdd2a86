"""The disconnect cascade (PRODUCT.md §2.3), one bounded page per SQS message, safe to run twice.

Every change is a conditional write on the old value (post -> email, post -> cleared, paper invoices -> off,
post -> manual_intervention, unsubmitted -> cancelled) committed in one transaction with its count on the job
(customers and letters a transaction-full at a time), so a retried or duplicated page changes nothing twice, and
counters only count real changes. Customers with a postal preference (post, paper invoices) and unsubmitted letters
live in sparse GSI partitions that shrink as the cascade clears them, so each page simply reads the first N that
remain: no cursor to lose.

Phases, recorded on the job: templates and steps (a handful of records, done on the first page and redone until
the phase moves on, so a page that crashed half-way cannot leave them behind), then customers, then letters.
A GSI is eventually consistent, so a post preference or a letter written just before the disconnect committed may
not show yet when the cascade first finds nothing left: it then waits `settle_seconds` and looks once more before
it finishes the job.
"""

from __future__ import annotations

from pydantic import BaseModel

from postal.integration import UNSUBMITTED_STATUSES, CascadeMessage, impact
from postal.models import Channel, IntegrationStatus, JobStatus
from postal.store.records import Records

DISCONNECT_REASON = "integration_disconnected"


class PageResult(BaseModel):
    changed: int
    phase: str
    next: CascadeMessage | None = None  # enqueue this for the next page
    delay_seconds: int = 0


def run_page(
    records: Records, message: CascadeMessage, page_size: int, now: str, *, settle_seconds: int = 0
) -> PageResult:
    """Apply one page of the cascade; `next` is the message for the following page (None: nothing more to do)."""
    org_id, job_id = message.org_id, message.job_id
    job = records.get_job(org_id, job_id, consistent=True)
    if job.status != JobStatus.RUNNING:
        return PageResult(changed=0, phase="done")
    integration = records.get_integration(org_id, consistent=True)
    if integration.status != IntegrationStatus.DISCONNECTED or integration.last_job_id != job_id:
        # Reconnect is refused while this job runs, so this only happens to a stale duplicate.
        return PageResult(changed=0, phase="superseded")

    if job.total is None:
        _set_total(records, org_id, job_id)

    changed = 0
    phase = job.phase
    if phase is None:
        changed += _revert_templates_and_steps(records, org_id, now, job_id)

    customers = records.postal_customers(org_id, limit=page_size)
    if customers:
        # A customer the GSI shows with a stale preference fails its condition and is read again next page.
        changed += records.clear_customers_post(org_id, [cid for cid, post in customers if post], now, job_id)
        changed += records.clear_customers_paper(org_id, [cid for cid, post in customers if not post], now, job_id)
        if phase != "customers":
            records.set_job_phase(org_id, job_id, "customers")
        return PageResult(changed=changed, phase="customers", next=message)

    for status in UNSUBMITTED_STATUSES:
        letter_ids = records.unsubmitted_letter_ids(org_id, status, limit=page_size)
        cancelled = records.cancel_unsubmitted_letters(org_id, letter_ids, DISCONNECT_REASON, now, job_id)
        if cancelled:
            if phase != "letters":
                records.set_job_phase(org_id, job_id, "letters")
            return PageResult(changed=changed + cancelled, phase="letters", next=message)
        # Nothing cancellable left in this status: what remains is held by a dispatch that was fenced before the
        # disconnect (it submits, or re-checks the integration and cancels the letter itself).

    if not message.settled:
        if phase is None:
            records.set_job_phase(org_id, job_id, "settling")
        settled = message.model_copy(update={"settled": True})
        return PageResult(changed=changed, phase="settling", next=settled, delay_seconds=settle_seconds)

    records.finish_job(org_id, job_id, now)
    return PageResult(changed=changed, phase="done")


def _set_total(records: Records, org_id: str, job_id: str) -> None:
    """The job's total and its counts by kind, from what the disconnect affects (on the first page)."""
    before = impact(records, org_id)
    counts = {
        "templates": len(before.templates_with_post),
        "steps": len(before.steps_with_post),
        "customers": before.customers_to_reset,
        "letters": before.letters_in_flight,
    }
    records.set_job_total(org_id, job_id, sum(counts.values()), dict.fromkeys(counts, 0))


def _revert_templates_and_steps(records: Records, org_id: str, now: str, job_id: str) -> int:
    """Templates that default to post go back to email, post steps become manual interventions; how many changed."""
    # Each change commits together with its count; nothing can set post again once disconnected.
    changed = sum(
        records.revert_template_post(org_id, t.template_id, now, job_id)
        for t in records.list_templates(org_id)
        if t.default_channel == Channel.POST
    )
    return changed + records.revert_steps_post(org_id, now, job_id)

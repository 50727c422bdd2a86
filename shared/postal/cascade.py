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

from postal.integration import CascadeMessage, impact
from postal.letters import UNSUBMITTED, LetterEvent
from postal.letters.changes import change_many
from postal.letters.status import cancel_on_disconnect
from postal.models import Channel, IntegrationStatus, JobStatus
from postal.ports import Publisher, Stores

DISCONNECT_REASON = "integration_disconnected"
SOURCE = "postal-comms"


class PageResult(BaseModel):
    changed: int
    phase: str
    next: CascadeMessage | None = None  # enqueue this for the next page
    delay_seconds: int = 0


def run_page(
    stores: Stores, events: Publisher, message: CascadeMessage, page_size: int, now: str, *, settle_seconds: int = 0
) -> PageResult:
    """Apply one page of the cascade; `next` is the message for the following page (None: nothing more to do)."""
    org_id, job_id = message.org_id, message.job_id
    job = stores.jobs.get_job(org_id, job_id, consistent=True)
    if job.status != JobStatus.RUNNING:
        return PageResult(changed=0, phase="done")
    integration = stores.integrations.get_integration(org_id, consistent=True)
    if integration.status != IntegrationStatus.DISCONNECTED or integration.last_job_id != job_id:
        # Reconnect is refused while this job runs, so this only happens to a stale duplicate.
        return PageResult(changed=0, phase="superseded")

    if job.total is None:
        _set_total(stores, org_id, job_id)

    changed = 0
    phase = job.phase
    if phase is None:
        changed += _revert_templates_and_steps(stores, org_id, now, job_id)

    found, reset = _reset_customers(stores, org_id, job_id, page_size, now)
    if found:
        changed += reset
        if phase != "customers":
            stores.jobs.set_job_phase(org_id, job_id, "customers")
        return PageResult(changed=changed, phase="customers", next=message)

    for status in UNSUBMITTED:
        cancelled = cancel_letters(stores, events, org_id, job_id, status.value, page_size, now)
        if cancelled:
            if phase != "letters":
                stores.jobs.set_job_phase(org_id, job_id, "letters")
            return PageResult(changed=changed + cancelled, phase="letters", next=message)
        # Nothing cancellable left in this status: what remains is held by a dispatch that was fenced before the
        # disconnect (it submits, or re-checks the integration and cancels the letter itself).

    if not message.settled:
        if phase is None:
            stores.jobs.set_job_phase(org_id, job_id, "settling")
        settled = message.model_copy(update={"settled": True})
        return PageResult(changed=changed, phase="settling", next=settled, delay_seconds=settle_seconds)

    stores.jobs.finish_job(org_id, job_id, now)
    return PageResult(changed=changed, phase="done")


def _reset_customers(stores: Stores, org_id: str, job_id: str, page_size: int, now: str) -> tuple[bool, int]:
    """Reset the next page of customers with a postal preference: whether there was one, and how many changed. A
    customer the GSI shows with a stale preference fails its condition and is read again next page."""
    customers = stores.customers.postal_customers(org_id, limit=page_size)
    if not customers:
        return False, 0
    post = [cid for cid, is_post in customers if is_post]
    paper = [cid for cid, is_post in customers if not is_post]
    reset = stores.customers.clear_customers_post(org_id, post, now, job_id)
    reset += stores.customers.clear_customers_paper(org_id, paper, now, job_id)
    return True, reset


def _set_total(stores: Stores, org_id: str, job_id: str) -> None:
    """The job's total and its counts by kind, from what the disconnect affects (on the first page)."""
    before = impact(stores, org_id)
    counts = {
        "templates": len(before.templates_with_post),
        "steps": len(before.steps_with_post),
        "customers": before.customers_to_reset,
        "letters": before.letters_in_flight,
    }
    stores.jobs.set_job_total(org_id, job_id, sum(counts.values()), dict.fromkeys(counts, 0))


def _revert_templates_and_steps(stores: Stores, org_id: str, now: str, job_id: str) -> int:
    """Templates that default to post go back to email, post steps become manual interventions; how many changed."""
    # Each change commits together with its count; nothing can set post again once disconnected.
    changed = sum(
        stores.templates.revert_template_post(org_id, t.template_id, now, job_id)
        for t in stores.templates.list_templates(org_id)
        if t.default_channel == Channel.POST
    )
    return changed + stores.collection.revert_steps_post(org_id, now, job_id)


def cancel_letters(
    stores: Stores, events: Publisher, org_id: str, job_id: str, status: str, page_size: int, now: str
) -> int:
    """Cancel up to `page_size` letters still in `status` that no dispatch holds, each with its history entry and
    its event, counted on the job; the number cancelled. A letter that moved on, or that a dispatch claimed (its
    claim was fenced by `connected`, so it was handed over before the disconnect committed), is left alone."""
    event = LetterEvent(status="cancelled", occurred_at=now, source=SOURCE, reason=DISCONNECT_REASON)
    change = cancel_on_disconnect(event, now, DISCONNECT_REASON, unclaimed=True)
    batch = [(letter, change) for letter in stores.letters.unsubmitted(org_id, status, limit=page_size)]
    return change_many(stores.letters, events, batch, job_id=job_id, counter="letters")

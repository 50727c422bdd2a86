"""The disconnect cascade (PRODUCT.md §2.3), one bounded page per SQS message, safe to run twice.

Every change is a conditional write on the old value (post -> email, post -> cleared, post -> manual_intervention,
unsubmitted -> cancelled), so a retried or duplicated page changes nothing twice, and counters only count real
changes. Post customers and unsubmitted letters live in sparse GSI partitions that shrink as the cascade clears
them, so each page simply reads the first N that remain: no cursor to lose.
"""

from __future__ import annotations

from pydantic import BaseModel

from postal.integration import UNSUBMITTED_STATUSES, CascadeMessage, impact
from postal.models import Channel, IntegrationStatus, JobStatus
from postal.store.records import Records

DISCONNECT_REASON = "integration_disconnected"


class PageResult(BaseModel):
    more: bool
    changed: int
    phase: str


def run_page(records: Records, message: CascadeMessage, page_size: int, now: str) -> PageResult:
    """Apply one page of the cascade. `more=True`: enqueue the same message again for the next page."""
    org_id, job_id = message.org_id, message.job_id
    job = records.get_job(org_id, job_id, consistent=True)
    if job.status != JobStatus.RUNNING:
        return PageResult(more=False, changed=0, phase="done")
    integration = records.get_integration(org_id, consistent=True)
    if integration.status != IntegrationStatus.DISCONNECTED or integration.last_job_id != job_id:
        # Reconnect is refused while this job runs, so this only happens to a stale duplicate.
        return PageResult(more=False, changed=0, phase="superseded")

    if job.total is None:
        before = impact(records, org_id)
        counts = {
            "templates": len(before.templates_with_post),
            "steps": len(before.steps_with_post),
            "customers": before.customers_with_post,
            "letters": before.letters_in_flight,
        }
        records.set_job_total(org_id, job_id, sum(counts.values()), dict.fromkeys(counts, 0))

    # Templates and steps are a handful of records: re-applied on every page (conditional no-ops once done), so a
    # page that crashed half-way can never leave them behind. Each change commits together with its count.
    changed = sum(
        records.revert_template_post(org_id, t.template_id, now, job_id)
        for t in records.list_templates(org_id)
        if t.default_channel == Channel.POST
    )
    changed += records.revert_steps_post(org_id, now, job_id)

    ids = records.post_customer_ids(org_id, limit=page_size)
    if ids:
        changed += sum(records.clear_customer_post(org_id, cid, now, job_id) for cid in ids)
        records.set_job_phase(org_id, job_id, "customers")
        return PageResult(more=True, changed=changed, phase="customers")

    for status in UNSUBMITTED_STATUSES:
        letter_ids = records.unsubmitted_letter_ids(org_id, status, limit=page_size)
        cancelled = sum(
            records.cancel_unsubmitted_letter(org_id, lid, DISCONNECT_REASON, now, job_id) for lid in letter_ids
        )
        if cancelled:
            changed += cancelled
            records.set_job_phase(org_id, job_id, "letters")
            return PageResult(more=True, changed=changed, phase="letters")
        # Nothing cancellable left in this status: what remains is held by a dispatch that was fenced before the
        # disconnect (it submits, or re-checks the integration and cancels the letter itself).

    records.finish_job(org_id, job_id, now)
    return PageResult(more=False, changed=changed, phase="done")

"""Nightly collection (PRODUCT.md §2.6): every open invoice whose next step is due runs that step, exactly once.

The steps are read as they are when the run happens: an invoice's next step is the one after the furthest step
its run history holds (`catalog.next_step`), and an edit of the steps re-indexes the open invoices' due dates
before the run reads them. Exactly once comes from `Records.claim_step`: one transaction writes the step's run
record, keyed by the step's id (conditioned on its absence), and moves the invoice past the step. A duplicate
schedule firing, a concurrent run or a retry claims nothing. The action itself (a letter, a task, an event) is then
done idempotently, keyed by the run, and a run that failed half-way stays pending until `nightly-reconciliation`
retries it (MAX_ATTEMPTS times, then a person gets a task). One invoice's or one org's failure is recorded on that
org's job and never stops another's work.

`model` (the schedule's input, the reports, the ports), `steps` (due steps, channels, doing one step), `run` (the
nightly collection in one invocation), `fanout` (the schedule's run: one message per org, a bounded page per
message, on `page_cache`'s one read per record), `reconcile` (the retries) and `quote` (the run quote).
"""

from postal.collection.fanout import CollectionPage, PageResult, run_page, start_run
from postal.collection.model import LetterSender, NightlyInput, NightlySummary, OrgRun, failure_reason
from postal.collection.quote import MAX_QUOTED_INVOICES, NotQuoted, PriceGroup, QuotedLetter, RunQuote, quote_run
from postal.collection.reconcile import MAX_ATTEMPTS, reconcile_org
from postal.collection.run import run_nightly, run_org
from postal.collection.steps import (
    PAGE,
    channels_for,
    current_steps,
    due_invoice_ids,
    execute_step,
    reindex,
    run_id,
    step_due,
)
from postal.ports import Publisher

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_QUOTED_INVOICES",
    "PAGE",
    "CollectionPage",
    "LetterSender",
    "NightlyInput",
    "NightlySummary",
    "NotQuoted",
    "OrgRun",
    "PageResult",
    "PriceGroup",
    "Publisher",
    "QuotedLetter",
    "RunQuote",
    "channels_for",
    "current_steps",
    "due_invoice_ids",
    "execute_step",
    "failure_reason",
    "quote_run",
    "reconcile_org",
    "reindex",
    "run_id",
    "run_nightly",
    "run_org",
    "run_page",
    "start_run",
    "step_due",
]

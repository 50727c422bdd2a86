"""Nightly collection (PRODUCT.md §2.6): every open invoice whose next step is due runs that step, exactly once.

The steps are read as they are when the run happens: an invoice's next step is the one after the furthest step
its run history holds (`catalog.next_step`), and an edit of the steps re-indexes the open invoices' due dates
before the run reads them. Exactly once comes from `Records.claim_step`: one transaction writes the step's run
record, keyed by the step's id (conditioned on its absence), and moves the invoice past the step. A duplicate
schedule firing, a concurrent run or a retry claims nothing. The action itself (a letter, a task, an event) is then
done idempotently, keyed by the run, and a run that failed half-way stays pending until `nightly-reconciliation`
retries it (MAX_ATTEMPTS times, then a person gets a task). One invoice's or one org's failure is recorded on that
org's job and never stops another's work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from postal.addresses import mailable
from postal.catalog import next_due, with_next_step, with_step_ids
from postal.channels import resolve_channel
from postal.documents.rendering import DocumentIn, render_for
from postal.errors import DomainError, ValidationFailed
from postal.letters import LetterIn
from postal.models import (
    Channel,
    CollectionStep,
    InvoiceRecord,
    Job,
    JobFailure,
    JobStatus,
    PaperInvoiceMode,
    StepAction,
    Task,
    TaskKind,
    TemplateKind,
)
from postal.providers.base import PriceQuote, PriceRequest
from postal.store.records import Records

logger = Logger(child=True)

PAGE = 100
MAX_ATTEMPTS = 3  # a step run that failed this often is handed to a person (a task) and no longer retried
# A run quote renders every letter of the run to count its pages (~10 ms each) inside one API call (29 s).
MAX_QUOTED_INVOICES = 500


class NightlyInput(BaseModel):
    """What EventBridge Scheduler sends (the schedule's `Input`); `date` and `org_id` narrow a manual run."""

    model_config = ConfigDict(populate_by_name=True)

    job: Literal["nightly-collection", "nightly-reconciliation"]
    run_date: date | None = Field(default=None, alias="date")
    org_id: str | None = None


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


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


# send_letter(org_id, template_id, customer_id, invoice_id, idempotency_key) -> letter id
LetterSender = Callable[[str, str, str, str, str], str]


def current_steps(records: Records, org_id: str) -> tuple[list[CollectionStep], str | None]:
    """The org's steps as they are now, each with its id (steps stored before ids existed get theirs derived)."""
    steps, updated_at = records.get_steps(org_id, consistent=True)
    return with_step_ids(steps), updated_at


def reindex(records: Records, org_id: str, steps: list[CollectionStep], updated_at: str | None) -> int:
    """Bring the due index of the org's open invoices in line with the current steps, once per edit of them
    (paged over the open invoices' GSI1 partition, no scan). Returns how many invoices moved."""
    if records.steps_indexed(org_id, updated_at):
        return 0
    moved = 0
    cursor: str | None = None
    while True:
        page, unreadable, cursor = records.open_invoices(org_id, PAGE, cursor)
        if unreadable:  # they fail on their own when they come due; the others are re-indexed
            logger.warning("open invoices no model accepts", extra={"org_id": org_id, "invoice_ids": unreadable})
        for invoice in page:
            target = with_next_step(invoice, steps)
            if (target.next_step_id, target.next_due) != (invoice.next_step_id, invoice.next_due):
                # A writer that changed the invoice meanwhile derived its next step from the steps itself.
                moved += records.set_next_step(org_id, invoice, target)
        if not cursor:
            break
    records.mark_steps_indexed(org_id, updated_at)
    return moved


def due_invoice_ids(records: Records, org_id: str, day: date, *, at_most: int | None = None) -> list[str]:
    """Every invoice with a step due on or before `day`; reading stops once more than `at_most` are found."""
    due: list[str] = []
    cursor: str | None = None
    while True:
        ids, cursor = records.due_invoice_ids(org_id, day.isoformat(), PAGE, cursor)
        due.extend(ids)
        if not cursor or (at_most is not None and len(due) > at_most):
            return due


def step_due(invoice: InvoiceRecord, steps: list[CollectionStep], day: date) -> CollectionStep | None:
    """The step an invoice runs on `day` by the current sequence and its run history; None when it is not open
    (paid, cancelled), has no step left, or its next step is not due yet."""
    step, due = next_due(invoice, steps)
    return step if step is not None and due is not None and due <= day else None


def run_id(invoice_id: str, step_id: str) -> str:
    return f"{invoice_id}#{step_id}"


def channels_for(records: Records, org_id: str, invoice: InvoiceRecord, step: CollectionStep) -> list[Channel]:
    """The channels one communication step goes out on: the step's action is the default, the customer's
    preference overrides it (post only while connected); paper invoices add or replace email (§2.4)."""
    customer = records.get_customer(org_id, invoice.customer_id)
    template = records.get_template(org_id, step.template_id)
    integration = records.get_integration(org_id)
    as_default = template.model_copy(update={"default_channel": Channel(step.action.value)})
    resolution = resolve_channel(customer, as_default, integration)
    channels = [resolution.channel]
    wants_paper = (
        template.kind == TemplateKind.INVOICE
        and customer.paper_invoice
        and integration.status == "connected"
        and resolution.channel == Channel.EMAIL
    )
    if wants_paper:
        channels = (
            [Channel.POST]
            if customer.paper_invoice_mode == PaperInvoiceMode.INSTEAD_OF_EMAIL
            else [Channel.EMAIL, Channel.POST]
        )
    if Channel.POST in channels and not resolution.deliverable and resolution.channel == Channel.POST:
        # Reported, never silently emailed: the caller turns this into a fix-address task.
        raise DomainError(resolution.problem or "address_unusable", code=resolution.problem or "address_unusable")
    return channels


def _put_task_once(records: Records, task: Task) -> None:
    if records.find_task(task.org_id, task.task_id) is None:
        records.put_task(task)


def execute_step(
    records: Records,
    events: Publisher,
    send_letter: LetterSender,
    org_id: str,
    invoice: InvoiceRecord,
    step: CollectionStep,
    now: str,
) -> dict[str, Any]:
    """Do what one claimed step says. Idempotent: every side effect is keyed by the run id."""
    step_id = str(step.step_id)
    rid = run_id(invoice.invoice_id, step_id)
    if step.action in (StepAction.MANUAL_INTERVENTION, StepAction.LETTER_TASK):
        kind = TaskKind.MANUAL_INTERVENTION if step.action == StepAction.MANUAL_INTERVENTION else TaskKind.LETTER_TASK
        task = Task(
            task_id=f"task_{invoice.invoice_id}_{step_id}",
            org_id=org_id,
            kind=kind,
            customer_id=invoice.customer_id,
            invoice_id=invoice.invoice_id,
            template_id=step.template_id,
            note=f"collection step {step_id} (day {step.day_offset}) of invoice {invoice.number}",
            created_at=now,
        )
        _put_task_once(records, task)
        return {"task_id": task.task_id}
    try:
        channels = channels_for(records, org_id, invoice, step)
    except DomainError as exc:
        task_id = f"task_{invoice.invoice_id}_{step_id}_address"
        _put_task_once(
            records,
            Task(
                task_id=task_id,
                org_id=org_id,
                kind=TaskKind.FIX_ADDRESS,
                customer_id=invoice.customer_id,
                invoice_id=invoice.invoice_id,
                template_id=step.template_id,
                note=f"post step not sent: {exc.code}",
                created_at=now,
            ),
        )
        return {"blocked": exc.code, "task_id": task_id}
    outcome: dict[str, Any] = {"channels": [c.value for c in channels]}
    for channel in channels:
        if channel == Channel.POST:
            outcome["letter_id"] = send_letter(
                org_id, step.template_id, invoice.customer_id, invoice.invoice_id, f"nightly:{rid}"
            )
        else:
            # Email and SMS are sent by the AR platform: it receives the due communication as an event.
            events.publish(
                "CommunicationDue",
                {
                    "org_id": org_id,
                    "run_id": rid,
                    "channel": channel.value,
                    "invoice_id": invoice.invoice_id,
                    "customer_id": invoice.customer_id,
                    "template_id": step.template_id,
                    "step_id": step_id,
                },
            )
    return outcome


def failure_reason(exc: Exception) -> str:
    """What a job records about a failure: the domain error's code and message, else only the exception's type
    (an unexpected error's text may quote personal data)."""
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.message}"
    return f"unexpected_error: {type(exc).__name__}"


def _run_invoice(
    records: Records,
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
        invoice = records.get_invoice(org_id, invoice_id, consistent=True)
    except ValidationError as exc:  # stored before today's bounds: this invoice fails, the others run on
        records.add_job_failure(org_id, job_id, JobFailure(reason=failure_reason(exc), invoice_id=invoice_id, at=now))
        return "failed"
    step = step_due(invoice, steps, today)
    if step is None:
        target = with_next_step(invoice, steps)
        if (target.next_step_id, target.next_due) != (invoice.next_step_id, invoice.next_due):
            records.set_next_step(org_id, invoice, target)  # the index lagged an edit of the steps
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
    if not records.claim_step(org_id, invoice, advanced, run):
        return "skipped"  # this step already ran (a duplicate firing, a concurrent run, an edit of the steps)
    try:
        outcome = execute_step(records, events, send_letter, org_id, invoice, step, now)
    except Exception as exc:  # one invoice's failure is recorded and never stops the others
        reason = failure_reason(exc)
        records.fail_step_run(org_id, invoice_id, step_id, reason)
        records.add_job_failure(
            org_id, job_id, JobFailure(reason=reason, invoice_id=invoice_id, step_id=step_id, at=now)
        )
        return "failed"
    records.finish_step_run(org_id, invoice_id, step_id, outcome)
    return "ran"


def run_org(
    records: Records,
    events: Publisher,
    send_letter: LetterSender,
    org_id: str,
    today: date,
    now: str,
) -> OrgRun:
    """Run every due step of one org, by the steps as they are now. The job `nightly-{date}` shows done/total
    over every firing of that date."""
    job_id = f"nightly-{today.isoformat()}"
    records.start_firing(
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
        steps, updated_at = current_steps(records, org_id)
        result.reindexed = reindex(records, org_id, steps, updated_at)
        due = due_invoice_ids(records, org_id, today)
        result.due = len(due)
        records.add_job_total(org_id, job_id, len(due), now)
        for invoice_id in due:
            outcome = _run_invoice(records, events, send_letter, org_id, job_id, invoice_id, steps, today, now)
            setattr(result, outcome, getattr(result, outcome) + 1)
            records.tick_job(org_id, job_id, outcome, now)
    except Exception as exc:  # one org's failure is recorded on its job; the other orgs run on
        result.error = failure_reason(exc)
        records.add_job_failure(org_id, job_id, JobFailure(reason=result.error, at=now))
        records.finish_firing(org_id, job_id, now, failed=True)
        return result
    records.finish_firing(org_id, job_id, now)
    return result


def _give_up(records: Records, org_id: str, run: dict[str, Any], reason: str, now: str) -> str:
    """A run that failed MAX_ATTEMPTS times: a person takes over through a task; reconciliation stops."""
    invoice_id, step_id = str(run["invoice_id"]), str(run["step_id"])
    task_id = f"task_{invoice_id}_{step_id}_failed"
    _put_task_once(
        records,
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
    records.give_up_step_run(org_id, invoice_id, step_id, reason, task_id)
    return task_id


def reconcile_org(
    records: Records, events: Publisher, send_letter: LetterSender, org_id: str, today: date, now: str
) -> OrgRun:
    """Retry the step runs that were claimed but did not finish (their actions are idempotent); a run that keeps
    failing is given up after MAX_ATTEMPTS, reported on the job `reconciliation-{date}` with a task."""
    job_id = f"reconciliation-{today.isoformat()}"
    records.start_firing(
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
        runs = records.pending_step_runs(org_id, limit=500)
        result.due = len(runs)
        records.add_job_total(org_id, job_id, len(runs), now)
        for run in runs:
            invoice_id = str(run["invoice_id"])
            step = CollectionStep.model_validate(run["step"])
            try:
                invoice = records.get_invoice(org_id, invoice_id)
                outcome = execute_step(records, events, send_letter, org_id, invoice, step, now)
            except Exception as exc:  # counted, and given up after MAX_ATTEMPTS; never fatal
                reason = failure_reason(exc)
                result.failed += 1
                if records.fail_step_run(org_id, invoice_id, str(step.step_id), reason) >= MAX_ATTEMPTS:
                    task_id = _give_up(records, org_id, run, reason, now)
                    result.gave_up.append(run_id(invoice_id, str(step.step_id)))
                    records.add_job_failure(
                        org_id,
                        job_id,
                        JobFailure(reason=reason, invoice_id=invoice_id, step_id=step.step_id, task_id=task_id, at=now),
                    )
                records.tick_job(org_id, job_id, "failed", now)
                continue
            records.finish_step_run(org_id, invoice_id, str(step.step_id), outcome)
            result.ran += 1
            records.tick_job(org_id, job_id, "ran", now)
    except Exception as exc:  # one org's failure is recorded on its job; the other orgs run on
        result.error = failure_reason(exc)
        records.add_job_failure(org_id, job_id, JobFailure(reason=result.error, at=now))
        records.finish_firing(org_id, job_id, now, failed=True)
        return result
    records.finish_firing(org_id, job_id, now)
    return result


def run_nightly(
    records: Records, events: Publisher, send_letter: LetterSender, request: NightlyInput, today: date, now: str
) -> NightlySummary:
    """Every org (or the one asked for): collection or reconciliation, each org isolated from the others."""
    day = request.run_date or today
    summary = NightlySummary(job=request.job, run_date=day)
    org_ids = [request.org_id] if request.org_id else list(records.iter_org_ids())
    for org_id in org_ids:
        if request.job == "nightly-collection":
            summary.orgs.append(run_org(records, events, send_letter, org_id, day, now))
        else:
            summary.orgs.append(reconcile_org(records, events, send_letter, org_id, day, now))
    return summary


# ---------------------------------------------------------------------------------------------- run quote
class QuotedLetter(BaseModel):
    invoice_id: str
    customer_id: str
    step_id: str
    template_id: str
    country: str
    pages: int


class NotQuoted(BaseModel):
    """A due post step that would not become a letter tonight, and why (the run opens a task for it instead)."""

    invoice_id: str
    step_id: str
    code: str
    message: str


class PriceGroup(BaseModel):
    country: str
    pages: int
    letters: int
    amount: Decimal = Field(description="Price per letter at this group's volume")
    currency: str
    total: Decimal


class RunQuote(BaseModel):
    """What tonight's run would post, priced before anything is sent (PRODUCT.md §3)."""

    run_date: date
    due: int = Field(description="Invoices with a step due")
    letters: int
    totals: dict[str, Decimal] = Field(description="Total per currency")
    groups: list[PriceGroup] = Field(description="Letters priced together by destination and page count")
    items: list[QuotedLetter]
    not_quoted: list[NotQuoted]


def quote_run(
    records: Records, quote: Callable[[PriceRequest], PriceQuote], org_id: str, run_date: date, now: str
) -> RunQuote:
    """Price the letters the nightly run of `run_date` would send: each due step that resolves to post is rendered
    (as the run renders it) to count its pages, then the letters are priced by the org's provider, grouped by
    destination and page count at the group's volume, with the postage and print options the run uses."""
    steps, updated_at = current_steps(records, org_id)
    reindex(records, org_id, steps, updated_at)  # the quote reads the index the run will read
    due = due_invoice_ids(records, org_id, run_date, at_most=MAX_QUOTED_INVOICES)
    if len(due) > MAX_QUOTED_INVOICES:
        raise ValidationFailed(
            f"more than {MAX_QUOTED_INVOICES} invoices are due on {run_date}: too many to quote in one call",
            code="run_too_large_to_quote",
            fix="quote single letters with GET .../prices (country, pages, options)",
        )
    items: list[QuotedLetter] = []
    not_quoted: list[NotQuoted] = []
    for invoice_id in due:
        invoice = records.get_invoice(org_id, invoice_id)
        step = step_due(invoice, steps, run_date)
        if step is None or step.action in (StepAction.MANUAL_INTERVENTION, StepAction.LETTER_TASK):
            continue
        try:
            if Channel.POST not in channels_for(records, org_id, invoice, step):
                continue
            document = render_for(
                records,
                org_id,
                DocumentIn(template_id=step.template_id, customer_id=invoice.customer_id, invoice_ids=[invoice_id]),
                now,
            )
        except DomainError as exc:
            not_quoted.append(
                NotQuoted(invoice_id=invoice_id, step_id=str(step.step_id), code=exc.code, message=exc.message)
            )
            continue
        assert document.customer.billing_address is not None  # render_for refuses a customer without one
        country = mailable(document.customer.billing_address, where="billing_address").country
        items.append(
            QuotedLetter(
                invoice_id=invoice_id,
                customer_id=invoice.customer_id,
                step_id=str(step.step_id),
                template_id=step.template_id,
                country=country,
                pages=document.rendered.page_count,
            )
        )
    options = LetterIn.model_fields  # the run sends with LetterIn's defaults (collection.handler.send_letter)
    groups = []
    for (country, pages), count in sorted(Counter((i.country, i.pages) for i in items).items()):
        price = quote(
            PriceRequest(
                country=country,
                pages=pages,
                color=options["color"].default,
                duplex=options["duplex"].default,
                postage=options["postage"].default,
                volume=count,
            )
        )
        groups.append(
            PriceGroup(
                country=country,
                pages=pages,
                letters=count,
                amount=price.amount,
                currency=price.currency,
                total=price.total,
            )
        )
    totals: dict[str, Decimal] = {}
    for group in groups:
        totals[group.currency] = totals.get(group.currency, Decimal(0)) + group.total
    return RunQuote(
        run_date=run_date,
        due=len(due),
        letters=len(items),
        totals=totals,
        groups=groups,
        items=items,
        not_quoted=not_quoted,
    )

"""Nightly collection (PRODUCT.md §2.6): every open invoice whose next step is due runs that step, exactly once.

Exactly once comes from `Records.claim_step`: one transaction advances the invoice past the step (conditioned on
the step index it read) and writes the step's run record. A duplicate schedule firing, a concurrent run or a retry
claims nothing. The action itself (a letter, a task, an event) is then done idempotently, keyed by the run, and a
run that failed half-way stays pending until `nightly-reconciliation` retries it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from postal.catalog import next_due
from postal.channels import resolve_channel
from postal.documents.service import DocumentIn, render_for
from postal.errors import DomainError, ValidationFailed
from postal.letters import LetterIn
from postal.models import (
    Channel,
    CollectionStep,
    InvoiceRecord,
    Job,
    JobStatus,
    PaperInvoiceMode,
    StepAction,
    Task,
    TaskKind,
    TemplateKind,
)
from postal.providers.base import PriceQuote, PriceRequest
from postal.store.records import Records

PAGE = 100
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


class NightlySummary(BaseModel):
    job: str
    run_date: date
    orgs: list[OrgRun] = Field(default_factory=list)


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


# send_letter(org_id, template_id, customer_id, invoice_id, idempotency_key) -> letter id
LetterSender = Callable[[str, str, str, str, str], str]


def due_invoice_ids(records: Records, org_id: str, day: date, *, at_most: int | None = None) -> list[str]:
    """Every invoice with a step due on or before `day`; reading stops once more than `at_most` are found."""
    due: list[str] = []
    cursor: str | None = None
    while True:
        ids, cursor = records.due_invoice_ids(org_id, day.isoformat(), PAGE, cursor)
        due.extend(ids)
        if not cursor or (at_most is not None and len(due) > at_most):
            return due


def next_step(invoice: InvoiceRecord, steps: list[CollectionStep]) -> CollectionStep | None:
    """The step an invoice runs next; None when it is not open (paid, cancelled) or has no step left."""
    index = invoice.next_step_index
    return steps[index] if invoice.status == "open" and index < len(steps) else None


def run_id(invoice_id: str, step_index: int) -> str:
    return f"{invoice_id}#{step_index}"


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


def execute_step(
    records: Records,
    events: Publisher,
    send_letter: LetterSender,
    org_id: str,
    invoice: InvoiceRecord,
    step_index: int,
    step: CollectionStep,
    now: str,
) -> dict[str, Any]:
    """Do what one claimed step says. Idempotent: every side effect is keyed by the run id."""
    rid = run_id(invoice.invoice_id, step_index)
    if step.action in (StepAction.MANUAL_INTERVENTION, StepAction.LETTER_TASK):
        kind = TaskKind.MANUAL_INTERVENTION if step.action == StepAction.MANUAL_INTERVENTION else TaskKind.LETTER_TASK
        task = Task(
            task_id=f"task_{invoice.invoice_id}_{step_index}",
            org_id=org_id,
            kind=kind,
            customer_id=invoice.customer_id,
            invoice_id=invoice.invoice_id,
            template_id=step.template_id,
            note=f"collection step {step_index} (day {step.day_offset}) of invoice {invoice.number}",
            created_at=now,
        )
        if records.find_task(org_id, task.task_id) is None:
            records.put_task(task)
        return {"task_id": task.task_id}
    try:
        channels = channels_for(records, org_id, invoice, step)
    except DomainError as exc:
        task_id = f"task_{invoice.invoice_id}_{step_index}_address"
        if records.find_task(org_id, task_id) is None:
            records.put_task(
                Task(
                    task_id=task_id,
                    org_id=org_id,
                    kind=TaskKind.FIX_ADDRESS,
                    customer_id=invoice.customer_id,
                    invoice_id=invoice.invoice_id,
                    template_id=step.template_id,
                    note=f"post step not sent: {exc.code}",
                    created_at=now,
                )
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
                    "step_index": step_index,
                },
            )
    return outcome


def run_org(
    records: Records,
    events: Publisher,
    send_letter: LetterSender,
    org_id: str,
    today: date,
    now: str,
) -> OrgRun:
    """Run every due step of one org. The job `nightly-{date}` shows done/total."""
    steps, _ = records.get_steps(org_id)
    job = records.ensure_job(
        Job(
            job_id=f"nightly-{today.isoformat()}",
            org_id=org_id,
            kind="nightly_collection",
            status=JobStatus.RUNNING,
            started_at=now,
        )
    )
    result = OrgRun(org_id=org_id, job_id=job.job_id)
    due = due_invoice_ids(records, org_id, today)
    result.due = len(due)
    records.set_job_total(org_id, job.job_id, len(due), {"ran": 0, "skipped": 0, "failed": 0})
    for invoice_id in due:
        invoice = records.get_invoice(org_id, invoice_id)
        index = invoice.next_step_index
        step = next_step(invoice, steps)
        if step is None:
            result.skipped += 1
            records.add_job_done(org_id, job.job_id, "skipped")
            continue
        advanced = invoice.model_copy(
            update={
                "next_step_index": index + 1,
                "next_due": next_due(invoice.due_date, steps, index + 1),
                "updated_at": now,
            }
        )
        run = {
            "org_id": org_id,
            "invoice_id": invoice_id,
            "step_index": index,
            "step": step.model_dump(mode="json"),
            "status": "claimed",
            "claimed_at": now,
        }
        if not records.claim_step(invoice, advanced, run):
            result.skipped += 1  # another run (or a duplicate firing) owns this step
            continue
        try:
            outcome = execute_step(records, events, send_letter, org_id, invoice, index, step, now)
        except DomainError as exc:
            records.fail_step_run(org_id, invoice_id, index, f"{exc.code}: {exc.message}")
            result.failed += 1
            records.add_job_done(org_id, job.job_id, "failed")
            continue
        records.finish_step_run(org_id, invoice_id, index, outcome)
        result.ran += 1
        records.add_job_done(org_id, job.job_id, "ran")
    records.finish_job(org_id, job.job_id, now)
    return result


def reconcile_org(records: Records, events: Publisher, send_letter: LetterSender, org_id: str, now: str) -> OrgRun:
    """Retry the step runs that were claimed but did not finish (their actions are idempotent)."""
    result = OrgRun(org_id=org_id, job_id="nightly-reconciliation")
    for run in records.pending_step_runs(org_id, limit=500):
        result.due += 1
        invoice = records.get_invoice(org_id, str(run["invoice_id"]))
        index = int(run["step_index"])
        step = CollectionStep.model_validate(run["step"])
        try:
            outcome = execute_step(records, events, send_letter, org_id, invoice, index, step, now)
        except DomainError as exc:
            records.fail_step_run(org_id, invoice.invoice_id, index, f"{exc.code}: {exc.message}")
            result.failed += 1
            continue
        records.finish_step_run(org_id, invoice.invoice_id, index, outcome)
        result.ran += 1
    return result


def run_nightly(
    records: Records, events: Publisher, send_letter: LetterSender, request: NightlyInput, today: date, now: str
) -> NightlySummary:
    """Every org (or the one asked for): collection or reconciliation."""
    day = request.run_date or today
    summary = NightlySummary(job=request.job, run_date=day)
    org_ids = [request.org_id] if request.org_id else list(records.iter_org_ids())
    for org_id in org_ids:
        if request.job == "nightly-collection":
            summary.orgs.append(run_org(records, events, send_letter, org_id, day, now))
        else:
            summary.orgs.append(reconcile_org(records, events, send_letter, org_id, now))
    return summary


# ---------------------------------------------------------------------------------------------- run quote
class QuotedLetter(BaseModel):
    invoice_id: str
    customer_id: str
    step_index: int
    template_id: str
    country: str
    pages: int


class NotQuoted(BaseModel):
    """A due post step that would not become a letter tonight, and why (the run opens a task for it instead)."""

    invoice_id: str
    step_index: int
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
    steps, _ = records.get_steps(org_id)
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
        index = invoice.next_step_index
        step = next_step(invoice, steps)
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
            not_quoted.append(NotQuoted(invoice_id=invoice_id, step_index=index, code=exc.code, message=exc.message))
            continue
        assert document.customer.billing_address is not None  # render_for refuses a customer without one
        items.append(
            QuotedLetter(
                invoice_id=invoice_id,
                customer_id=invoice.customer_id,
                step_index=index,
                template_id=step.template_id,
                country=document.customer.billing_address.country,
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

"""The collection steps of an org's invoices: which are due, on which channels, and doing one claimed step."""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools import Logger

from postal.catalog import next_due, with_next_step, with_step_ids
from postal.channels import resolve_channel
from postal.collection.model import LetterSender
from postal.errors import DomainError
from postal.models import (
    Channel,
    CollectionStep,
    InvoiceRecord,
    PaperInvoiceMode,
    StepAction,
    Task,
    TaskKind,
    TemplateKind,
)
from postal.ports import Publisher, Stores

logger = Logger(child=True)

PAGE = 100


def current_steps(stores: Stores, org_id: str) -> tuple[list[CollectionStep], str | None]:
    """The org's steps as they are now, each with its id (steps stored before ids existed get theirs derived)."""
    steps, updated_at = stores.collection.get_steps(org_id, consistent=True)
    return with_step_ids(steps), updated_at


def reindex(stores: Stores, org_id: str, steps: list[CollectionStep], updated_at: str | None) -> int:
    """Bring the due index of the org's open invoices in line with the current steps, once per edit of them
    (paged over the open invoices' GSI1 partition, no scan). Returns how many invoices moved."""
    if stores.collection.steps_indexed(org_id, updated_at):
        return 0
    moved = 0
    cursor: str | None = None
    while True:
        page, unreadable, cursor = stores.invoices.open_invoices(org_id, PAGE, cursor)
        if unreadable:  # they fail on their own when they come due; the others are re-indexed
            logger.warning("open invoices no model accepts", extra={"org_id": org_id, "invoice_ids": unreadable})
        for invoice in page:
            target = with_next_step(invoice, steps)
            if (target.next_step_id, target.next_due) != (invoice.next_step_id, invoice.next_due):
                # A writer that changed the invoice meanwhile derived its next step from the steps itself.
                moved += stores.invoices.set_next_step(org_id, invoice, target)
        if not cursor:
            break
    stores.collection.mark_steps_indexed(org_id, updated_at)
    return moved


def due_invoice_ids(stores: Stores, org_id: str, day: date, *, at_most: int | None = None) -> list[str]:
    """Every invoice with a step due on or before `day`; reading stops once more than `at_most` are found."""
    due: list[str] = []
    cursor: str | None = None
    while True:
        ids, cursor = stores.invoices.due_invoice_ids(org_id, day.isoformat(), PAGE, cursor)
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


def channels_for(stores: Stores, org_id: str, invoice: InvoiceRecord, step: CollectionStep) -> list[Channel]:
    """The channels one communication step goes out on: the step's action is the default, the customer's
    preference overrides it (post only while connected); paper invoices add or replace email (§2.4)."""
    customer = stores.customers.get_customer(org_id, invoice.customer_id)
    template = stores.templates.get_template(org_id, step.template_id)
    integration = stores.integrations.get_integration(org_id)
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


def put_task_once(stores: Stores, task: Task) -> None:
    """Open the task unless it exists (a conditional write: a concurrent run cannot open it twice)."""
    stores.tasks.open_task(task)


def execute_step(
    stores: Stores,
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
        return {"task_id": _open_task(stores, org_id, invoice, step, now)}
    try:
        channels = channels_for(stores, org_id, invoice, step)
    except DomainError as exc:
        task_id = f"task_{invoice.invoice_id}_{step_id}_address"
        _put_task(stores, task_id, TaskKind.FIX_ADDRESS, org_id, invoice, step, f"post step not sent: {exc.code}", now)
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


def step_task(org_id: str, invoice: InvoiceRecord, step: CollectionStep, now: str) -> Task:
    """The task a manual-intervention or letter-task step opens (its id names the invoice and the step)."""
    step_id = str(step.step_id)
    return Task(
        task_id=f"task_{invoice.invoice_id}_{step_id}",
        org_id=org_id,
        kind=TaskKind.MANUAL_INTERVENTION if step.action == StepAction.MANUAL_INTERVENTION else TaskKind.LETTER_TASK,
        customer_id=invoice.customer_id,
        invoice_id=invoice.invoice_id,
        template_id=step.template_id,
        note=f"collection step {step_id} (day {step.day_offset}) of invoice {invoice.number}",
        created_at=now,
    )


def _open_task(stores: Stores, org_id: str, invoice: InvoiceRecord, step: CollectionStep, now: str) -> str:
    """A manual-intervention or letter-task step: the task a person does (once per run); its id."""
    task = step_task(org_id, invoice, step, now)
    put_task_once(stores, task)
    return task.task_id


def _put_task(
    stores: Stores,
    task_id: str,
    kind: TaskKind,
    org_id: str,
    invoice: InvoiceRecord,
    step: CollectionStep,
    note: str,
    now: str,
) -> None:
    put_task_once(
        stores,
        Task(
            task_id=task_id,
            org_id=org_id,
            kind=kind,
            customer_id=invoice.customer_id,
            invoice_id=invoice.invoice_id,
            template_id=step.template_id,
            note=note,
            created_at=now,
        ),
    )

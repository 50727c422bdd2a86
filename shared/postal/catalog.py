"""Org settings the API writes: templates, customers, collection steps, invoices, tasks.

Anything that sets `post` is written in a transaction conditioned on the integration being connected, so it can
never slip in after a disconnect committed.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel

from postal.addresses import require_valid
from postal.errors import Conflict, NotFound, ValidationFailed
from postal.models import (
    AddressPosition,
    AddressState,
    Channel,
    CollectionStep,
    CollectionStepsIn,
    Customer,
    CustomerIn,
    InvoiceIn,
    InvoiceRecord,
    Task,
    TaskQuery,
    Template,
    TemplateIn,
)
from postal.ports import Stores


class StepsView(BaseModel):
    steps: list[CollectionStep]
    updated_at: str | None


class TaskPage(BaseModel):
    items: list[Task]
    next_cursor: str | None


def put_template(stores: Stores, org_id: str, template_id: str, body: TemplateIn, now: str) -> Template:
    if body.address_position == AddressPosition.CUSTOM and body.custom_address_box is None:
        raise Conflict(
            "address_position 'custom' needs custom_address_box",
            code="custom_address_box_required",
            fix="give custom_address_box (mm from the top-left of page 1) or use 'left'/'right'",
        )
    existing = stores.templates.find_template(org_id, template_id)
    template = Template(
        **body.model_dump(),
        template_id=template_id,
        updated_at=now,
        custom_pdf=existing.custom_pdf if existing else None,
        check=existing.check if existing else None,
    )
    stores.templates.put_template(org_id, template, requires_connected=body.default_channel == Channel.POST)
    return template


def put_customer(stores: Stores, org_id: str, customer_id: str, body: CustomerIn, now: str) -> Customer:
    """Store a customer. Post and paper invoices are postal preferences: they need the integration connected (the
    write is conditioned on it) and a usable billing address. For a customer who only gets email or SMS the
    address is stored as given, and channel resolution reports its problems if post is chosen later."""
    postal = "post" if body.preference == Channel.POST else "paper invoices" if body.paper_invoice else None
    if body.billing_address is not None and postal is not None:
        require_valid(body.billing_address, where="billing_address")
    state = AddressState.OK
    try:
        existing = stores.customers.get_customer(org_id, customer_id)
        if existing.billing_address == body.billing_address:
            state = existing.address_state  # a returned address stays flagged until it is changed
    except NotFound:
        pass  # a new customer
    customer = Customer(**body.model_dump(), customer_id=customer_id, updated_at=now, address_state=state)
    stores.customers.put_customer(org_id, customer, requires_connected=postal)
    return customer


def with_step_ids(steps: list[CollectionStep]) -> list[CollectionStep]:
    """Give every step its identity: the id the client gave, else the template id ('-2', '-3'... for the later
    uses of the same template). Moving a step or changing its offset keeps its id, so a step that ran stays run."""
    uses: dict[str, int] = {}
    named: list[CollectionStep] = []
    for step in steps:
        uses[step.template_id] = uses.get(step.template_id, 0) + 1
        n = uses[step.template_id]
        step_id = step.step_id or (step.template_id if n == 1 else f"{step.template_id}-{n}")
        named.append(step.model_copy(update={"step_id": step_id}))
    ids = [s.step_id for s in named]
    duplicates = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    if duplicates:
        raise Conflict(
            f"step ids must be unique; repeated: {', '.join(duplicates)}",
            code="duplicate_step_id",
            details={"step_ids": duplicates},
            fix="give each step its own step_id (or omit them to derive them from the templates)",
        )
    return named


def put_steps(stores: Stores, org_id: str, body: CollectionStepsIn, now: str) -> StepsView:
    """Replace the sequence. Open invoices follow it from the next nightly run on (it re-indexes their due dates
    first); `GET .../invoices/{id}` shows the next step by the new sequence at once."""
    for i, step in enumerate(body.steps):
        if stores.templates.find_template(org_id, step.template_id) is None:
            raise Conflict(
                f"step {i} uses template '{step.template_id}', which does not exist",
                code="unknown_template",
                details={"step": i},
                fix="create the template first (PUT .../templates/{template_id})",
            )
    offsets = [s.day_offset for s in body.steps]
    if offsets != sorted(offsets):
        raise Conflict("collection steps must be ordered by day_offset", code="steps_out_of_order")
    steps = with_step_ids(body.steps)
    requires_connected = any(s.action == "post" for s in steps)
    stores.collection.put_steps(org_id, steps, now, requires_connected=requires_connected)
    return StepsView(steps=steps, updated_at=now)


def get_steps(stores: Stores, org_id: str) -> StepsView:
    steps, updated_at = stores.collection.get_steps(org_id)
    return StepsView(steps=with_step_ids(steps), updated_at=updated_at)


def next_step(steps: list[CollectionStep], steps_run: list[str]) -> CollectionStep | None:
    """The step an invoice runs next by the current sequence: the one after the furthest step it has run.

    The run history decides, not a position: a step that ran never runs again however the sequence is edited,
    and an invoice never goes back to a step inserted before one it has passed (a friendly day-5 reminder is not
    sent after the day-10 one). Steps that ran and were deleted no longer count.
    """
    done = set(steps_run)
    furthest = max((i for i, s in enumerate(steps) if s.step_id in done), default=-1)
    return steps[furthest + 1] if furthest + 1 < len(steps) else None


def next_due(invoice: InvoiceRecord, steps: list[CollectionStep]) -> tuple[CollectionStep | None, date | None]:
    """The next step of an open invoice and the day it is due (None, None when closed or finished)."""
    if invoice.status != "open":
        return None, None
    step = next_step(steps, invoice.steps_run)
    return (step, invoice.due_date + timedelta(days=step.day_offset)) if step else (None, None)


def with_next_step(invoice: InvoiceRecord, steps: list[CollectionStep]) -> InvoiceRecord:
    step, due = next_due(invoice, steps)
    return invoice.model_copy(update={"next_step_id": step.step_id if step else None, "next_due": due})


def put_invoice(stores: Stores, org_id: str, invoice_id: str, body: InvoiceIn, now: str) -> InvoiceRecord:
    stores.customers.get_customer(org_id, body.customer_id)  # 404 for an unknown customer
    try:
        steps_run = stores.invoices.get_invoice(org_id, invoice_id).steps_run
    except NotFound:
        steps_run = []  # a new invoice has run no step yet
    steps, _ = stores.collection.get_steps(org_id)
    steps = with_step_ids(steps)
    record = InvoiceRecord(**body.model_dump(), invoice_id=invoice_id, updated_at=now, steps_run=steps_run)
    record = with_next_step(record, steps)
    stores.invoices.put_invoice(org_id, record)
    return record


def get_invoice(stores: Stores, org_id: str, invoice_id: str) -> InvoiceRecord:
    """The invoice with its next step by the sequence as it is now (the stored index may lag an edit)."""
    steps, _ = stores.collection.get_steps(org_id)
    return with_next_step(stores.invoices.get_invoice(org_id, invoice_id), with_step_ids(steps))


def list_tasks(stores: Stores, org_id: str, query: TaskQuery, limit: int, cursor: str | None) -> TaskPage:
    if query.created_from and query.created_to and query.created_from > query.created_to:
        raise ValidationFailed(
            "created_from is after created_to",
            code="invalid_date_range",
            details=[{"field": "created_from", "problem": "after created_to"}],
        )
    items, next_cursor = stores.tasks.list_tasks(org_id, query, limit, cursor)
    return TaskPage(items=items, next_cursor=next_cursor)


def complete_task(stores: Stores, org_id: str, task_id: str, now: str) -> Task:
    return stores.tasks.complete_task(org_id, task_id, now)


def list_templates(stores: Stores, org_id: str) -> list[Template]:
    return stores.templates.list_templates(org_id)


def get_template(stores: Stores, org_id: str, template_id: str) -> Template:
    return stores.templates.get_template(org_id, template_id)


def get_customer(stores: Stores, org_id: str, customer_id: str) -> Customer:
    return stores.customers.get_customer(org_id, customer_id)


def get_task(stores: Stores, org_id: str, task_id: str) -> Task:
    return stores.tasks.get_task(org_id, task_id)

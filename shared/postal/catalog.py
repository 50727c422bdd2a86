"""Org settings the API writes: templates, customers, collection steps, invoices, tasks.

Anything that sets `post` is written in a transaction conditioned on the integration being connected, so it can
never slip in after a disconnect committed.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel

from postal.addresses import require_valid
from postal.errors import Conflict, NotFound
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
    Template,
    TemplateIn,
)
from postal.store.records import Records


class StepsView(BaseModel):
    steps: list[CollectionStep]
    updated_at: str | None


class TaskPage(BaseModel):
    items: list[Task]
    next_cursor: str | None


def put_template(records: Records, org_id: str, template_id: str, body: TemplateIn, now: str) -> Template:
    if body.address_position == AddressPosition.CUSTOM and body.custom_address_box is None:
        raise Conflict(
            "address_position 'custom' needs custom_address_box",
            code="custom_address_box_required",
            fix="give custom_address_box (mm from the top-left of page 1) or use 'left'/'right'",
        )
    existing = records.find_template(org_id, template_id)
    template = Template(
        **body.model_dump(),
        template_id=template_id,
        updated_at=now,
        custom_pdf=existing.custom_pdf if existing else None,
        check=existing.check if existing else None,
    )
    records.put_template(org_id, template, requires_connected=body.default_channel == Channel.POST)
    return template


def put_customer(records: Records, org_id: str, customer_id: str, body: CustomerIn, now: str) -> Customer:
    if body.billing_address is not None:
        require_valid(body.billing_address, where="billing_address")
    state = AddressState.OK
    try:
        existing = records.get_customer(org_id, customer_id)
        if existing.billing_address == body.billing_address:
            state = existing.address_state  # a returned address stays flagged until it is changed
    except NotFound:
        pass  # a new customer
    customer = Customer(**body.model_dump(), customer_id=customer_id, updated_at=now, address_state=state)
    records.put_customer(org_id, customer, requires_connected=body.preference == Channel.POST)
    return customer


def put_steps(records: Records, org_id: str, body: CollectionStepsIn, now: str) -> StepsView:
    for i, step in enumerate(body.steps):
        if records.find_template(org_id, step.template_id) is None:
            raise Conflict(
                f"step {i} uses template '{step.template_id}', which does not exist",
                code="unknown_template",
                details={"step": i},
                fix="create the template first (PUT .../templates/{template_id})",
            )
    offsets = [s.day_offset for s in body.steps]
    if offsets != sorted(offsets):
        raise Conflict("collection steps must be ordered by day_offset", code="steps_out_of_order")
    requires_connected = any(s.action == "post" for s in body.steps)
    records.put_steps(org_id, body.steps, now, requires_connected=requires_connected)
    return StepsView(steps=body.steps, updated_at=now)


def get_steps(records: Records, org_id: str) -> StepsView:
    steps, updated_at = records.get_steps(org_id)
    return StepsView(steps=steps, updated_at=updated_at)


def next_due(due_date: date, steps: list[CollectionStep], index: int) -> date | None:
    """When the step at `index` is due for an invoice, or None when the sequence is finished."""
    if index >= len(steps):
        return None
    return due_date + timedelta(days=steps[index].day_offset)


def put_invoice(records: Records, org_id: str, invoice_id: str, body: InvoiceIn, now: str) -> InvoiceRecord:
    records.get_customer(org_id, body.customer_id)  # 404 for an unknown customer
    try:
        index = records.get_invoice(org_id, invoice_id).next_step_index
    except NotFound:
        index = 0  # a new invoice starts at the first step
    steps, _ = records.get_steps(org_id)
    record = InvoiceRecord(
        **body.model_dump(),
        invoice_id=invoice_id,
        updated_at=now,
        next_step_index=index,
        next_due=next_due(body.due_date, steps, index) if body.status == "open" else None,
    )
    records.put_invoice(org_id, record)
    return record


def complete_task(records: Records, org_id: str, task_id: str, now: str) -> Task:
    task = records.get_task(org_id, task_id)
    if task.status == "done":
        return task
    done = task.model_copy(update={"status": "done", "completed_at": now})
    records.put_task(done)
    return done

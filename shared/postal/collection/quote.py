"""The run quote: what the nightly run of a date would post, priced before anything is sent (PRODUCT.md §3)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from postal.addresses import mailable
from postal.collection.steps import channels_for, current_steps, due_invoice_ids, reindex, step_due
from postal.documents.rendering import DocumentIn, render_for
from postal.errors import DomainError, ValidationFailed
from postal.letters import LetterIn
from postal.models import Channel, CollectionStep, StepAction
from postal.ports import Stores
from postal.providers.base import PriceQuote, PriceRequest

# A run quote renders every letter of the run to count its pages (~10 ms each) inside one API call (29 s).
MAX_QUOTED_INVOICES = 500


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
    stores: Stores, quote: Callable[[PriceRequest], PriceQuote], org_id: str, run_date: date, now: str
) -> RunQuote:
    """Price the letters the nightly run of `run_date` would send: each due step that resolves to post is rendered
    (as the run renders it) to count its pages, then the letters are priced by the org's provider, grouped by
    destination and page count at the group's volume, with the postage and print options the run uses."""
    steps, updated_at = current_steps(stores, org_id)
    reindex(stores, org_id, steps, updated_at)  # the quote reads the index the run will read
    due = due_invoice_ids(stores, org_id, run_date, at_most=MAX_QUOTED_INVOICES)
    if len(due) > MAX_QUOTED_INVOICES:
        raise ValidationFailed(
            f"more than {MAX_QUOTED_INVOICES} invoices are due on {run_date}: too many to quote in one call",
            code="run_too_large_to_quote",
            fix="quote single letters with GET .../prices (country, pages, options)",
        )
    items: list[QuotedLetter] = []
    not_quoted: list[NotQuoted] = []
    for invoice_id in due:
        quoted = _quoted_letter(stores, org_id, invoice_id, steps, run_date, now)
        if isinstance(quoted, NotQuoted):
            not_quoted.append(quoted)
        elif quoted is not None:
            items.append(quoted)
    groups = _priced_groups(items, quote)
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


def _quoted_letter(
    stores: Stores, org_id: str, invoice_id: str, steps: list[CollectionStep], run_date: date, now: str
) -> QuotedLetter | NotQuoted | None:
    """The letter one due invoice's step would send, rendered to count its pages; why not when it would not
    become a letter (no usable address, a custom layout, ...); None when the step sends no letter tonight (not due,
    a task, or not by post)."""
    invoice = stores.invoices.get_invoice(org_id, invoice_id)
    step = step_due(invoice, steps, run_date)
    if step is None or step.action in (StepAction.MANUAL_INTERVENTION, StepAction.LETTER_TASK):
        return None
    try:
        if Channel.POST not in channels_for(stores, org_id, invoice, step):
            return None
        document = render_for(
            stores,
            org_id,
            DocumentIn(template_id=step.template_id, customer_id=invoice.customer_id, invoice_ids=[invoice_id]),
            now,
        )
    except DomainError as exc:
        return NotQuoted(invoice_id=invoice_id, step_id=str(step.step_id), code=exc.code, message=exc.message)
    assert document.customer.billing_address is not None  # render_for refuses a customer without one
    country = mailable(document.customer.billing_address, where="billing_address").country
    return QuotedLetter(
        invoice_id=invoice_id,
        customer_id=invoice.customer_id,
        step_id=str(step.step_id),
        template_id=step.template_id,
        country=country,
        pages=document.rendered.page_count,
    )


def _priced_groups(items: list[QuotedLetter], quote: Callable[[PriceRequest], PriceQuote]) -> list[PriceGroup]:
    """The letters priced together by destination and page count, at the group's volume."""
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
    return groups

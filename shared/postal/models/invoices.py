"""Invoices: lines, instalments, the open amount, and the collection progress the service keeps per invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from postal.models.common import (
    Amount,
    BusinessDate,
    CurrencyCode,
    Identifier,
    SignedAmount,
    Strict,
    VatNumber,
    require_currency_digits,
)


class Instalment(Strict):
    """One instalment of a payment plan: what is due when, and whether it has been paid."""

    due_date: date
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    paid: bool = False


class InvoiceLine(Strict):
    description: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    quantity: Decimal = Field(default=Decimal(1), gt=0, le=1_000_000, decimal_places=3)
    unit_price: SignedAmount = Field(description="In the invoice's currency, at most its fraction digits")
    vat_rate: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=2, description="VAT in percent, e.g. 21")


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class InvoiceIn(Strict):
    customer_id: Identifier
    number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issue_date: BusinessDate
    due_date: BusinessDate
    currency: CurrencyCode = "EUR"
    lines: list[InvoiceLine] = Field(default_factory=list, max_length=200)
    open_amount: Amount
    payment_reference: Annotated[str, StringConstraints(max_length=64)] | None = None
    status: InvoiceStatus = InvoiceStatus.OPEN
    customer_number: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    buyer_vat_number: VatNumber | None = None
    supply_date: date | None = Field(default=None, description="Date of supply, when it differs from the issue date")
    vat_exemption_reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Why a line carries 0 % VAT (e.g. reverse charge), printed under the totals"
    )
    instalments: list[Instalment] = Field(default_factory=list, max_length=60, description="Payment plan schedule")

    @model_validator(mode="after")
    def _currency_digits(self) -> InvoiceIn:
        require_currency_digits(self.currency, open_amount=self.open_amount)
        for i, line in enumerate(self.lines):
            require_currency_digits(self.currency, **{f"lines.{i}.unit_price": line.unit_price})
        return self


class Invoice(InvoiceIn):
    """An invoice as documents render it: the API's fields plus its id."""

    invoice_id: Identifier


class InvoiceRecord(Invoice):
    """The state the service keeps per invoice (collection progress included)."""

    model_config = ConfigDict(extra="ignore")

    invoice_id: str
    updated_at: str
    steps_run: list[str] = Field(default_factory=list, description="Ids of the collection steps already run")
    next_step_id: str | None = Field(default=None, description="The step that runs next, by the current sequence")
    next_due: date | None = None

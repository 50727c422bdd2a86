"""Customers: who is written to, where and how (channel preference, paper invoices, returned mail)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from postal.models.common import Address, Channel, Language, PartialAddress, Strict


class PaperInvoiceMode(StrEnum):
    """Paper goes out together with the email, or instead of it (PRODUCT.md §2.4)."""

    WITH_EMAIL = "with_email"
    INSTEAD_OF_EMAIL = "instead_of_email"


class CustomerIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    billing_address: Address | PartialAddress | None = Field(
        default=None,
        description="Complete where post or paper invoices are chosen; otherwise stored as given (channel "
        "resolution reports what is missing)",
    )
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()\-]{5,20}$")] | None = None
    language: Language = Language.EN
    preference: Channel | None = Field(default=None, description="Overrides every template's default channel")
    paper_invoice: bool = False
    paper_invoice_mode: PaperInvoiceMode = PaperInvoiceMode.WITH_EMAIL


class AddressState(StrEnum):
    OK = "ok"
    RETURNED = "returned"


class Customer(CustomerIn):
    model_config = ConfigDict(extra="ignore")

    customer_id: str
    updated_at: str
    address_state: AddressState = AddressState.OK

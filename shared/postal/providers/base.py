"""The one provider interface. Every adapter (Pingen, PostGrid, MySendingBox, generic, sandbox) implements it.

Adapters are the only provider code that touches httpx. They speak the provider's real protocol and return
canonical values (providers.md §5): canonical statuses, canonical postage, canonical error codes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, Field

from postal.models import Address, LetterStatus, Postage


class ProviderErrorCode:
    """Canonical error codes (providers.md §5.3)."""

    MISSING_ADDRESS_FIELDS = "missing_address_fields"
    UNSUPPORTED_COUNTRY = "unsupported_country"
    FORMAT_ERROR = "format_error"
    INSUFFICIENT_CREDIT = "insufficient_credit"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    REJECTED_BY_PROVIDER = "rejected_by_provider"
    UNDELIVERABLE = "undeliverable"
    # The provider reports a problem with the letter that we cannot classify further: a person must look.
    PROVIDER_PROBLEM = "provider_problem"
    # The org's provider cannot do what the letter asks (capabilities.json): nothing is silently downgraded.
    POSTAGE_NOT_SUPPORTED = "postage_not_supported"


class ProviderError(Exception):
    """A provider refused or failed. `retryable` faults are retried with backoff, then dead-lettered."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fix: str,
        retryable: bool = False,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fix = fix
        self.retryable = retryable
        self.retry_after = retry_after
        self.details = details or {}


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else `{}`: provider answers are read defensively, never trusted."""
    return value if isinstance(value, dict) else {}


class UnreadableAnswer(Exception):
    """A provider's answer we cannot read (its shape changed): never proof that nothing was created."""


class InvalidSignature(Exception):
    """A webhook's signature (or its URL token) did not verify."""


class LetterSubmission(BaseModel):
    """Everything an adapter needs to hand one letter to its provider."""

    letter_id: str = Field(description="Our letter id; also our idempotency key / reference at the provider")
    org_id: str
    pdf: bytes
    pdf_url: str | None = Field(default=None, description="Short-lived presigned GET URL of the same PDF")
    file_name: str
    recipient: Address
    sender: Address | None = None
    postage: Postage
    color: bool = False
    duplex: bool = False
    address_position: str = "left"
    page_count: int
    staged: dict[str, str] | None = Field(
        default=None, description="What the adapter's `stage` left for this letter on an earlier attempt (Pingen)"
    )


class SubmitResult(BaseModel):
    provider_letter_id: str
    status: LetterStatus
    raw_status: str
    price: Decimal | None = None
    currency: str | None = None


class ProviderLetter(BaseModel):
    """The provider's current view of one letter."""

    provider_letter_id: str
    status: LetterStatus | None
    raw_status: str
    tracking_number: str | None = None


class PriceRequest(BaseModel):
    country: str
    pages: int = Field(ge=1)
    color: bool = False
    duplex: bool = False
    postage: Postage = Postage.PRIORITY
    volume: int = Field(default=1, ge=1)


class PriceQuote(BaseModel):
    amount: Decimal = Field(description="Price per letter")
    currency: str
    total: Decimal = Field(description="amount x volume")
    source: str = Field(description="'provider' when asked from the provider's price endpoint, else 'price_table'")


class WebhookEvent(BaseModel):
    """One status change reported by a provider, already mapped to canonical values."""

    provider: str
    event_id: str = Field(description="Stable id for deduplication")
    provider_letter_id: str | None = None
    letter_id: str | None = Field(default=None, description="Our letter id when the provider echoes it back")
    status: LetterStatus | None = Field(description="None: a history entry that changes no status")
    raw_status: str
    occurred_at: datetime
    reason: str | None = None
    error_code: str | None = None
    fix: str | None = Field(default=None, description="What a person must do, when the provider's event says")
    details: dict[str, Any] = Field(default_factory=dict)


class PostalProvider(Protocol):
    """One print-and-mail provider, spoken to over its real HTTP API."""

    name: str

    def submit(self, submission: LetterSubmission) -> SubmitResult:
        """Hand one letter to the provider. Safe to call again with the same `letter_id`."""
        ...

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:
        """The letter the provider already holds for our `letter_id`, if any (exactly-once on retry)."""
        ...

    def get(self, provider_letter_id: str) -> ProviderLetter: ...

    def cancel(self, provider_letter_id: str) -> None:
        """Cancel at the provider; `ProviderError` when it no longer allows it."""
        ...

    def quote(self, request: PriceRequest) -> PriceQuote: ...

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        """Verify the callback's signature over the raw body (`InvalidSignature`) and map it to events."""
        ...

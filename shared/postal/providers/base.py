"""The one provider interface. Every adapter (Pingen, PostGrid, MySendingBox, generic, sandbox) implements it.

Adapters are the only provider code that touches httpx. They speak the provider's real protocol and return
canonical values (providers.md §5): canonical statuses, canonical postage, canonical error codes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, Field

from postal.codes import Code
from postal.errors import InvalidSignature, ProviderError, UnreadableAnswer
from postal.models import Address, LetterStatus, Postage

# The provider errors are re-exported for the callers that import them from here; their home is `postal.errors`.
# `ProviderErrorCode` is the canonical codes' old name; their home is `postal.codes`.
ProviderErrorCode = Code
__all__ = [
    "InvalidSignature",
    "LetterSubmission",
    "PostalProvider",
    "PriceQuote",
    "PriceRequest",
    "ProviderError",
    "ProviderErrorCode",
    "ProviderLetter",
    "SubmitResult",
    "UnreadableAnswer",
    "WebhookEvent",
    "as_dict",
]


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else `{}`: provider answers are read defensively, never trusted."""
    return value if isinstance(value, dict) else {}


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

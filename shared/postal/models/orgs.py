"""Organisations: the org, its branding (what it prints on its paper) and its postal integration."""

from __future__ import annotations

import base64
import binascii
import io
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from postal.models.common import Address, Email, Money, Phone, ProviderName, Strict, VatNumber

MAX_LOGO_PIXELS = 4000


def _png_base64(value: str) -> str:
    """A logo the renderer can place: base64 of a PNG that opens, at most 4000 px a side (no decompression
    bomb)."""
    from PIL import Image, UnidentifiedImageError  # only the functions that take branding pay for the import

    try:
        with Image.open(io.BytesIO(base64.b64decode(value, validate=True))) as image:
            if image.format != "PNG" or max(image.size) > MAX_LOGO_PIXELS:
                raise ValueError(f"the logo must be a PNG of at most {MAX_LOGO_PIXELS} px a side")
            image.verify()
    except (binascii.Error, UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError("the logo is not a base64-encoded PNG") from exc
    return value


class Branding(Strict):
    """What an org prints on its paper: name, sender address, optional logo, footer with bank details."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    sender_address: Address | None = None
    logo_png_base64: Annotated[str, AfterValidator(_png_base64)] | None = Field(default=None, max_length=700_000)
    iban: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$")] | None = None
    bic: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")] | None = None
    footer: Annotated[str, StringConstraints(max_length=300)] | None = None
    payment_portal_url: Annotated[str, StringConstraints(pattern=r"^https://", max_length=500)] | None = None
    vat_number: VatNumber | None = Field(default=None, description="The org's VAT number, printed on every document")
    contact_name: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None


# ---------------------------------------------------------------------------------------------------------- records
class IntegrationStatus(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTED = "connected"


class ReturnedMailFallback(StrEnum):
    """What happens besides the fix-address task when a letter comes back (PRODUCT.md §3)."""

    NONE = "none"
    EMAIL = "email"  # a CommunicationDue event asks the AR platform to email the customer instead


OrgName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


RETURNED_MAIL_FALLBACK_DOC = "On returned mail, also ask the AR platform to email the customer ('email')"


class OrgIn(Strict):
    name: OrgName
    branding: Branding | None = None
    paper_invoice_fee: Money | None = None
    window_standard: str | None = Field(default=None, description="Window standard id for rendered documents")
    returned_mail_fallback: ReturnedMailFallback = Field(
        default=ReturnedMailFallback.NONE, description=RETURNED_MAIL_FALLBACK_DOC
    )


class OrgPatch(Strict):
    """`PATCH /v1/orgs/{org_id}`: the fields given replace the stored ones; `null` removes an optional one."""

    name: OrgName | None = None
    branding: Branding | None = None
    paper_invoice_fee: Money | None = None
    window_standard: str | None = None
    returned_mail_fallback: ReturnedMailFallback | None = Field(default=None, description=RETURNED_MAIL_FALLBACK_DOC)


class Org(BaseModel):
    org_id: str
    name: str
    branding: Branding | None = None
    paper_invoice_fee: Money | None = None
    window_standard: str | None = None
    returned_mail_fallback: ReturnedMailFallback = ReturnedMailFallback.NONE
    created_at: str
    updated_at: str | None = None


class PostalIntegration(BaseModel):
    """Per org. `generation` increases on every connect and disconnect: in-flight work compares it."""

    org_id: str
    status: IntegrationStatus = IntegrationStatus.DISCONNECTED
    provider: ProviderName | None = None
    connected_at: str | None = None
    disconnected_at: str | None = None
    secret_ref: str | None = Field(default=None, exclude=True)
    # The secrets of earlier connections (newest first, bounded): letters sent through them are still tracked.
    past_secret_refs: list[str] = Field(default_factory=list, exclude=True, max_length=20)
    generation: int = 0
    last_job_id: str | None = None

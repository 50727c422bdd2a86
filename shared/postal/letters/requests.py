"""What a client asks for (`POST .../letters`) and the pure rules a request must meet before a letter is made:
send confirmed, postage available, and a window that shows the chosen recipient."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from postal.codes import Code
from postal.errors import ValidationFailed
from postal.models import Address, Identifier, Postage, Strict

# ------------------------------------------------------------------------------------------------ request


class RecipientIn(Strict):
    """Either a customer (their billing address) or an address given in the request; not both."""

    customer_id: Identifier | None = None
    address: Address | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RecipientIn:
        if (self.customer_id is None) == (self.address is None):
            raise ValueError("give either recipient.customer_id or recipient.address")
        return self


class DocumentRef(Strict):
    """A document rendered by this service (`render_to_s3`) instead of an uploaded PDF."""

    template_id: Identifier
    customer_id: Identifier
    invoice_ids: list[Identifier] = Field(default_factory=list, max_length=20)
    body: Annotated[str, StringConstraints(max_length=10_000)] | None = None


# Uploaded PDFs are checked up to the providers' limit.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
# A synchronous Lambda invocation carries at most 6 MB (6,291,456 bytes) of event: the inline PDF must leave room
# for the rest of the request (headers, the other fields). 6,000,000 base64 characters are a 4.5 MB PDF; larger
# PDFs (up to the providers' 8 MB) go through the upload (`"upload": true`).
MAX_PDF_BASE64 = 6_000_000


class LetterIn(Strict):
    """`POST /v1/orgs/{org_id}/letters`."""

    recipient: RecipientIn | None = Field(default=None, description="Defaults to the document's customer")
    postage: Postage = Postage.PRIORITY
    color: bool = False
    duplex: bool = False
    address_position: Literal["left", "right"] = "left"
    pdf_base64: Annotated[str, StringConstraints(max_length=MAX_PDF_BASE64)] | None = Field(
        default=None, description="The PDF inline, up to 6,000,000 base64 characters (4.5 MB); larger: `upload`"
    )
    document: DocumentRef | None = None
    upload: bool = Field(
        default=False,
        description="true: the answer carries a short-lived `upload_url` to PUT the PDF to (up to 8 MB); the "
        "letter is checked and queued when the PDF arrives",
    )
    send: bool = Field(default=False, description="Must be true: a letter is only mailed when explicitly asked")
    address_cover_page: bool = Field(
        default=False,
        description="With pdf_base64: put a cover page with the recipient in the window in front of the PDF (one "
        "more sheet, priced). Without it, page 1's window must show the recipient (else 422 recipient_mismatch).",
    )

    @model_validator(mode="after")
    def _one_content(self) -> LetterIn:
        if sum((self.pdf_base64 is not None, self.document is not None, self.upload)) != 1:
            raise ValueError("give one of pdf_base64, document or upload: true")
        if self.recipient is None and self.document is None:
            raise ValueError("recipient is required")
        if self.address_cover_page and self.pdf_base64 is None:
            raise ValueError("address_cover_page is for an uploaded PDF (a rendered document carries the address)")
        return self


def require_send(body: LetterIn) -> None:
    """Letters are only mailed when the caller says so (PRODUCT.md §2.5)."""
    if not body.send:
        raise ValidationFailed(
            "a letter is only sent when explicitly asked",
            code="send_not_confirmed",
            details=[{"field": "send", "problem": "must be true"}],
            fix='add "send": true to mail this letter',
        )


def require_postage_available(postage: Postage, country: str) -> None:
    """Economy is offered for France only (PRODUCT.md §2.5); elsewhere a 422 that says so."""
    if postage is Postage.ECONOMY and country.upper() != "FR":
        raise ValidationFailed(
            f"economy postage is only available for letters to France, not to {country.upper()}",
            code=Code.UNSUPPORTED_COUNTRY,
            details=[{"field": "postage", "country": country.upper(), "postage": postage.value}],
            fix="choose priority or registered postage for this destination",
        )


def _normal(text: str) -> str:
    """Text as compared for the address: case, accents, punctuation and spacing do not count (ß = ss)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def recipient_fields(recipient: Address) -> dict[str, str]:
    """What a window must show for the letter to reach `recipient`: the name (or the company), the first street
    line, the postal code and the city."""
    fields = {"name": recipient.name, "lines[0]": recipient.lines[0], "city": recipient.city}
    if recipient.postal_code:
        fields["postal_code"] = recipient.postal_code
    return fields


def missing_from_window(window_text: str, recipient: Address) -> list[str]:
    """The recipient's fields (`recipient_fields`) that the window text does not show, after normalisation."""
    shown = f" {_normal(window_text)} "
    missing = [f for f, value in recipient_fields(recipient).items() if f" {_normal(value)} " not in shown]
    if "name" in missing and recipient.company and f" {_normal(recipient.company)} " in shown:
        missing.remove("name")  # addressed to the company
    return missing


def require_window_shows(window_text: str, recipient: Address, zone_id: str) -> None:
    """The printed address is the recipient: a letter whose window shows someone else is never sent."""
    missing = missing_from_window(window_text, recipient)
    if missing:
        raise ValidationFailed(
            f"the address in the PDF's window ({zone_id}) is not the chosen recipient's",
            code="recipient_mismatch",
            details=[
                {
                    "window_text": window_text.strip()[:500],
                    "recipient": recipient_fields(recipient),
                    "not_in_window": missing,
                }
            ],
            fix="print the recipient's address in the window of page 1, choose the recipient the PDF is "
            'addressed to, or send with "address_cover_page": true (a cover page with the address goes in front)',
        )

"""Letters: the model, the ONE status state machine (providers.md §5.1) and the pure rules of the letters API.

Everything here is pure (no I/O): the DAL (`postal.store.letters`) turns `predecessors()` into DynamoDB
conditions, so the same rule decides in memory and in the database.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from postal.codes import FIXES, Code, fix_for
from postal.errors import ValidationFailed
from postal.models import Address, Identifier, LetterStatus, Money, Postage, Strict

S = LetterStatus

# The forward order of the non-exceptional statuses; `delivered` is final but still part of the forward line.
FORWARD: tuple[LetterStatus, ...] = (
    S.CREATED,
    S.RENDERED,
    S.QUEUED,
    S.SUBMITTED,
    S.ACCEPTED,
    S.PRINTING,
    S.SENT,
    S.DELIVERED,
)
FINAL: frozenset[LetterStatus] = frozenset({S.DELIVERED, S.UNDELIVERABLE, S.FAILED, S.CANCELLED})
UNSUBMITTED: tuple[LetterStatus, ...] = (S.CREATED, S.RENDERED, S.QUEUED)
# A letter can only be withdrawn before it is handed to the carrier (providers.md §5.1 "cancelled").
CANCELLABLE: frozenset[LetterStatus] = frozenset({S.CREATED, S.RENDERED, S.QUEUED, S.SUBMITTED, S.ACCEPTED, S.PRINTING})


def predecessors(target: LetterStatus) -> frozenset[LetterStatus]:
    """The statuses from which a letter may move to `target` (forward only, skipping allowed, never from final).

    The exception for an estimated delivery (`delivered` -> `undeliverable`) is not included here: it depends on
    the letter (`delivery_estimated`), see `can_move`.
    """
    if target in FORWARD:
        return frozenset(s for s in FORWARD[: FORWARD.index(target)] if s not in FINAL)
    if target is S.CANCELLED:
        return CANCELLABLE
    # failed and undeliverable: from any status that is not final yet.
    return frozenset(s for s in FORWARD if s not in FINAL)


def can_move(current: LetterStatus, target: LetterStatus, *, delivery_estimated: bool = False) -> bool:
    """True when `current -> target` is a legal status change."""
    if current in predecessors(target):
        return True
    # A return after an *estimated* delivery (PostGrid `completed`) is the one way out of a final status.
    return target is S.UNDELIVERABLE and current is S.DELIVERED and delivery_estimated


# ------------------------------------------------------------------------------------------------ models


class LetterError(BaseModel):
    """Why a letter failed: canonical code (providers.md §5.3), a message, the fix a person must make."""

    code: str
    message: str
    fix: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Letter(BaseModel):
    """A letter as stored (without the dispatch claim markers, which are internal)."""

    model_config = ConfigDict(extra="ignore")

    letter_id: str
    org_id: str
    status: LetterStatus
    status_reason: str | None = None
    customer_id: str | None = None
    recipient: Address
    postage: Postage
    color: bool = False
    duplex: bool = False
    address_position: str = "left"
    pdf_key: str
    page_count: int
    sha256: str
    provider: str
    provider_letter_id: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    paper_invoice_fee: Money | None = Field(
        default=None, description="The org's paper invoice fee printed on this invoice (PRODUCT.md §2.4)"
    )
    error: LetterError | None = None
    delivery_estimated: bool = False
    dispatch_attempts: int = 0
    # The connection the letter was handed over through (Secrets Manager ARN): its callbacks and reconciliation
    # use these credentials even after a disconnect or a switch of provider.
    secret_ref: str | None = Field(default=None, exclude=True)
    # What the adapter staged for the create on an earlier attempt (Pingen: the uploaded file), reused on retries.
    staged: dict[str, str] | None = Field(default=None, exclude=True)
    submitted_at: str | None = None
    awaiting_upload: bool = Field(default=False, description="Waits for its PDF at the upload_url")
    created_at: str
    updated_at: str


class LetterEvent(BaseModel):
    """One entry of a letter's history. `applied` is False when it arrived too late to change the status."""

    model_config = ConfigDict(extra="ignore")

    status: str
    occurred_at: str
    source: str
    applied: bool = True
    raw_status: str | None = None
    reason: str | None = None
    event_id: str | None = None
    error_code: str | None = None


class LetterView(Letter):
    """`GET .../letters/{id}`: the letter, its history (oldest first) and a short-lived PDF URL; while the letter
    waits for its PDF (`upload: true`), the presigned PUT to upload it to instead."""

    events: list[LetterEvent] = Field(default_factory=list)
    pdf_url: str | None = None
    upload_url: str | None = Field(default=None, description="PUT the PDF here (Content-Type: application/pdf)")
    upload_expires_in: int | None = Field(default=None, description="Seconds the upload_url stays valid")


class LetterPage(BaseModel):
    letters: list[Letter]
    next_cursor: str | None = None


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


class CancelOut(BaseModel):
    letter_id: str
    status: LetterStatus
    cancelled_at_provider: bool
    cancel_queued: bool = Field(
        default=False,
        description="True (202) when the letter was still being handed to the provider: it is cancelled here, and "
        "withdrawn at the provider as soon as the provider has it",
    )


# ------------------------------------------------------------------------------------------------ pure rules


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


def one_entry_per_status(events: list[LetterEvent]) -> list[LetterEvent]:
    """The history as shown: one entry per status change. A provider's report of a status the letter already has
    (e.g. its `submitted` callback after dispatch recorded the submission) confirms that entry and is not listed
    again; a report that changed nothing but says something new (a late, older status) is listed once, marked
    `applied: false`. Every applied change stays (a redriven letter is `queued` twice). The store keeps every
    report."""
    applied = {e.status for e in events if e.applied}
    shown: list[LetterEvent] = []
    unapplied: set[str] = set()
    for event in events:
        if not event.applied:
            if event.status in applied or event.status in unapplied:
                continue
            unapplied.add(event.status)
        shown.append(event)
    return shown


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


def error_from_code(code: str | None, message: str, details: dict[str, Any] | None = None) -> LetterError:
    """A `LetterError` with the standard fix for a canonical code (unknown codes: rejected_by_provider)."""
    known = Code(code) if code in FIXES else Code.REJECTED_BY_PROVIDER
    return LetterError(code=str(known), message=message, fix=fix_for(known), details=details or {})


def status_event_detail(letter: Letter, previous: LetterStatus | None) -> dict[str, Any]:
    """The EventBridge detail of a status change: ids and statuses only, never the address or the name."""
    return {
        "org_id": letter.org_id,
        "letter_id": letter.letter_id,
        "customer_id": letter.customer_id,
        "status": letter.status.value,
        "previous_status": previous.value if previous else None,
        "status_reason": letter.status_reason,
        "provider": letter.provider,
        "provider_letter_id": letter.provider_letter_id,
        "error_code": letter.error.code if letter.error else None,
        "updated_at": letter.updated_at,
    }

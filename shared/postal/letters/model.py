"""The letter: its ONE status state machine (providers.md §5.1), the stored model, its views and its errors.

Everything here is pure (no I/O): the DAL (`postal.store.letters`) turns `predecessors()` into DynamoDB
conditions, so the same rule decides in memory and in the database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from postal.codes import FIXES, Code, fix_for
from postal.models import Address, LetterStatus, Money, Postage

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


class CancelOut(BaseModel):
    letter_id: str
    status: LetterStatus
    cancelled_at_provider: bool
    cancel_queued: bool = Field(
        default=False,
        description="True (202) when the letter was still being handed to the provider: it is cancelled here, and "
        "withdrawn at the provider as soon as the provider has it",
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

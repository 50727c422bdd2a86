"""The letters API (PRODUCT.md §2.5, §4): send, follow, list, cancel, quote.

Handlers stay thin: they call these functions with the adapters from `postal.deps`. Nothing here logs a name or
an address: ids, statuses and counts only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from postal import idempotency
from postal.addresses import mailable, require_valid
from postal.clock import new_id
from postal.documents.zones import zone_for
from postal.errors import BadRequest, Conflict, DomainError, NotFound, ProviderUnavailable, ValidationFailed
from postal.letters import (
    CANCELLABLE,
    FINAL,
    FORWARD,
    MAX_UPLOAD_BYTES,
    UNSUBMITTED,
    CancelOut,
    Letter,
    LetterError,
    LetterEvent,
    LetterIn,
    LetterPage,
    LetterView,
    error_from_code,
    one_entry_per_status,
    require_postage_available,
    require_send,
    require_window_shows,
    status_event_detail,
)
from postal.models import (
    Address,
    AddressState,
    Branding,
    IntegrationStatus,
    Language,
    LetterStatus,
    Money,
    Postage,
    PostalIntegration,
    ProviderName,
    is_country,
)
from postal.providers.base import PriceQuote, PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.capabilities import require_capable
from postal.store.records import NotConnected, Records

# Rendering (fpdf2), the PDF check (pypdf), the nightly run and the price tables are imported where they are used:
# dispatch and webhooks import this module for its messages and events and never render.
if TYPE_CHECKING:
    from postal.collection import RunQuote
    from postal.connections import ProviderFactory
    from postal.documents.check import CheckProblem
    from postal.store.documents import DocumentStore
    from postal.store.letters import LetterStore

logger = Logger(child=True)

SOURCE = "postal-comms"
# A claim older than the DispatchQueue's visibility timeout belongs to a dispatch that is gone.
CLAIM_TTL_S = 180


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Sender(Protocol):
    def send(self, message: BaseModel, delay_seconds: int = 0) -> None: ...


class DispatchMessage(BaseModel):
    """One letter to hand to the provider (DispatchQueue)."""

    org_id: str
    letter_id: str


def publish_change(events: Publisher, letter: Letter, previous: LetterStatus | None) -> None:
    """Every status change goes out on EventBridge (PRODUCT.md §3)."""
    events.publish("LetterStatusChanged", status_event_detail(letter, previous))


def pdf_key(org_id: str, letter_id: str) -> str:
    return f"orgs/{org_id}/letters/{letter_id}.pdf"


# A synchronous call is not retried for the caller (unlike a letter, which dispatch retries): say what to do now.
SYNCHRONOUS_UNAVAILABLE_FIX = (
    "The provider did not answer this request and nothing was changed. Ask again in a minute; if it keeps failing, "
    "check the provider's status, or reconnect the integration if its credentials were rejected."
)


def provider_error(exc: ProviderError) -> DomainError:
    """A provider's refusal of a synchronous call (a quote) as an API error: transient faults 503 with what to do
    now, everything else 409/422 with the provider's fix."""
    details = {"provider_code": exc.details.get("provider_code"), "request_id": exc.details.get("request_id")}
    if exc.retryable or exc.code == ProviderErrorCode.PROVIDER_UNAVAILABLE:
        return ProviderUnavailable(exc.message, details=details, fix=SYNCHRONOUS_UNAVAILABLE_FIX)
    return ValidationFailed(exc.message, code=exc.code, details=details, fix=exc.fix)


def require_connected(records: Records, org_id: str) -> PostalIntegration:
    integration = records.get_integration(org_id, consistent=True)
    if integration.status != IntegrationStatus.CONNECTED or integration.provider is None:
        raise NotConnected(
            "letters need the postal integration to be connected",
            fix="connect the postal integration first (POST .../integrations/postal/connect)",
        )
    return integration


def _recipient(records: Records, org_id: str, body: LetterIn) -> tuple[Address, str | None]:
    """The address to mail to and the customer it belongs to (if any)."""
    recipient = body.recipient
    if body.document is not None and recipient is not None and recipient.customer_id != body.document.customer_id:
        # A rendered document is addressed to its customer: it can only be sent to that customer.
        raise ValidationFailed(
            f"the document is rendered for customer '{body.document.customer_id}' and would be mailed to someone else",
            code="recipient_mismatch",
            details=[{"field": "recipient", "document_customer_id": body.document.customer_id}],
            fix="omit recipient (the document goes to its customer), or upload the PDF with pdf_base64",
        )
    customer_id = recipient.customer_id if recipient else body.document.customer_id if body.document else None
    if recipient is not None and recipient.address is not None:
        require_valid(recipient.address, where="recipient.address")
        return recipient.address, None
    assert customer_id is not None  # LetterIn's validator guarantees a recipient or a document
    customer = records.get_customer(org_id, customer_id)
    if customer.address_state == AddressState.RETURNED:
        raise Conflict(
            f"mail to customer '{customer_id}' came back; postal sending is paused for this customer",
            code="address_returned",
            fix="correct the customer's billing address (PUT .../customers/{customer_id}), then send again",
        )
    if customer.billing_address is None:
        raise ValidationFailed(
            f"customer '{customer_id}' has no billing address",
            code=ProviderErrorCode.MISSING_ADDRESS_FIELDS,
            details=[{"field": "billing_address", "problem": "required"}],
            fix="set the customer's billing_address (PUT .../customers/{customer_id})",
        )
    return mailable(customer.billing_address, where="billing_address"), customer_id


def _decode_pdf(pdf_base64: str) -> bytes:
    try:
        return base64.b64decode(pdf_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("pdf_base64 is not valid base64", code="invalid_pdf_encoding") from exc


# What the check says about the window of page 1; behind a cover page the window shows the cover, not the upload.
_PAGE_ONE_WINDOW = frozenset({"address_not_found", "address_not_machine_readable", "address_outside_window"})


def behind_cover_page(problems: list[CheckProblem]) -> list[CheckProblem]:
    """The check's problems that still hold when the PDF goes behind a cover page: everything except what concerns
    the window and the clear zones of its first page (its border rule holds on every page)."""
    return [
        p
        for p in problems
        if p.code not in _PAGE_ONE_WINDOW
        and not (p.code == "content_in_clear_zone" and p.page == 1 and p.zone != "border")
    ]


def _with_cover_page(
    records: Records,
    org_id: str,
    pdf: bytes,
    address: Address,
    customer_id: str | None,
    zone_id: str,
    duplex: bool,
    now: str,
) -> tuple[bytes, int]:
    """The uploaded PDF behind a cover page that prints the recipient in the window (in the customer's language),
    and the number of pages put in front. In duplex the cover's back stays blank, so the letter still starts on its
    own sheet: one more sheet either way. The cover is rendered by the service, like its invoices and reminders.
    Raises `ValidationFailed` (`pdf_unreadable`) when the upload cannot be read."""
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    from postal.documents.render import DocumentKind, DocumentRequest, render_document

    org = records.get_org(org_id)
    language = records.get_customer(org_id, customer_id).language if customer_id else Language.EN
    cover = render_document(
        DocumentRequest(
            kind=DocumentKind.COVER_PAGE,
            language=language,
            zone_id=zone_id,
            branding=org.branding or Branding(name=org.name),
            recipient=address,
            document_date=date.fromisoformat(now[:10]),
        )
    )
    writer = PdfWriter()
    try:
        writer.append(PdfReader(BytesIO(cover.pdf)))
        if duplex:
            first = writer.pages[0]
            writer.add_blank_page(width=first.mediabox.width, height=first.mediabox.height)
        writer.append(PdfReader(BytesIO(pdf), strict=False))
    except Exception as exc:  # pypdf raises many types on broken files; the check would say the same
        raise ValidationFailed(
            "the PDF is damaged and cannot be read",
            code="pdf_unreadable",
            details={"reason": type(exc).__name__},
            fix="export or print the document to PDF again and upload the new file",
        ) from exc
    out = BytesIO()
    writer.write(out)
    return out.getvalue(), 2 if duplex else 1


def _estimate(
    provider: str, country: str, pages: int, *, color: bool, duplex: bool, postage: Postage
) -> tuple[Decimal | None, str | None]:
    """A price from the configured table, when there is one for the provider (the provider's own price wins)."""
    from postal.providers.prices import price_table

    try:
        quote = price_table(provider).quote(
            PriceRequest(country=country, pages=pages, color=color, duplex=duplex, postage=postage),
            provider=provider,
        )
    except (KeyError, ProviderError):
        return None, None
    return quote.amount, quote.currency


def create_letter(
    records: Records,
    letters: LetterStore,
    documents: DocumentStore,
    keys: idempotency.KeyStore,
    queue: Sender,
    events: Publisher,
    org_id: str,
    body: LetterIn,
    idempotency_key: str | None,
    now: str,
) -> LetterView:
    """Check, store and queue one letter (202). A replayed `Idempotency-Key` returns the letter it created."""
    from postal.documents.check import check_pdf
    from postal.documents.rendering import DocumentIn, render_to_s3
    from postal.documents.window_text import window_text

    require_send(body)
    idem_key = idempotency.validate_key(idempotency_key, required=True, what="sending a letter")
    assert idem_key is not None
    integration = require_connected(records, org_id)
    provider = integration.provider
    assert provider is not None
    address, customer_id = _recipient(records, org_id, body)
    require_postage_available(body.postage, address.country)
    require_capable(provider.value, postage=body.postage, country=address.country, color=body.color, duplex=body.duplex)

    pdf: bytes | None = None
    page_count = 0
    fee: Money | None = None
    if body.pdf_base64 is not None:
        pdf = _decode_pdf(body.pdf_base64)
        zone = zone_for(provider.value, body.address_position)
        result = check_pdf(pdf, zone)
        # Behind a cover page the upload's first page is not the one in the window.
        problems = behind_cover_page(result.problems) if body.address_cover_page else result.problems
        if problems:
            raise ValidationFailed(
                f"the PDF does not fit the {result.zone_id} window layout",
                code=ProviderErrorCode.FORMAT_ERROR,
                details=[p.model_dump(mode="json") for p in problems],
                fix="fix the PDF as each problem says (or check it first with POST .../templates/{id}/check)",
            )
        # A cover page is one more sheet: its back stays blank in duplex.
        cover_pages = (2 if body.duplex else 1) if body.address_cover_page else 0
        require_capable(
            provider.value, postage=body.postage, country=address.country, pages=result.page_count + cover_pages
        )
        page_count = result.page_count
        if body.address_cover_page:
            pdf, added = _with_cover_page(records, org_id, pdf, address, customer_id, zone.id, body.duplex, now)
            assert added == cover_pages
            page_count += added
        else:
            require_window_shows(window_text(pdf, zone), address, zone.id)

    is_new, letter_id = idempotency.claim(keys, "letters", org_id, idem_key, body, new_id("let"))
    with idempotency.released_on_refusal(keys, "letters", org_id, idem_key, body, is_new=is_new):
        if not is_new:
            existing = letters.get(org_id, letter_id)
            if existing is not None:
                if existing.status is LetterStatus.QUEUED:
                    # The first attempt may have died before its message was sent; a duplicate message is harmless
                    # (dispatch claims the letter once), a missing one would leave it queued forever.
                    queue.send(DispatchMessage(org_id=org_id, letter_id=letter_id))
                return get_letter(letters, documents, org_id, letter_id)
            # The first attempt died before writing the letter: finish it under the id it reserved.

        key = pdf_key(org_id, letter_id)
        token = idempotency.request_token("letters", org_id, idem_key, body)
        # What the request says about the letter, whether its PDF is here, rendered, or still to be uploaded.
        requested: dict[str, Any] = {
            "letter_id": letter_id,
            "org_id": org_id,
            "customer_id": customer_id,
            "recipient": address,
            "postage": body.postage,
            "color": body.color,
            "duplex": body.duplex,
            "address_position": body.address_position,
            "provider": provider.value,
            "created_at": now,
            "updated_at": now,
        }
        if body.upload:
            awaiting = Letter(
                **requested,
                status=LetterStatus.CREATED,
                pdf_key=upload_key(org_id, letter_id),
                page_count=0,
                sha256="",
                awaiting_upload=True,
            )
            return _await_upload(letters, documents, events, awaiting, token)
        if pdf is not None:
            sha256 = hashlib.sha256(pdf).hexdigest()
            documents.put_pdf(key, pdf, {"letter-id": letter_id, "org-id": org_id, "sha256": sha256})
        else:
            assert body.document is not None
            doc = body.document
            stored = render_to_s3(
                records,
                documents,
                org_id,
                DocumentIn(
                    template_id=doc.template_id, customer_id=doc.customer_id, invoice_ids=doc.invoice_ids, body=doc.body
                ),
                now,
                s3_key=pdf_key(org_id, letter_id),
            )
            key, sha256, page_count, fee = stored.s3_key, stored.sha256, stored.page_count, stored.paper_invoice_fee

        price, currency = _estimate(
            provider.value, address.country, page_count, color=body.color, duplex=body.duplex, postage=body.postage
        )
        letter = Letter(
            **requested,
            status=LetterStatus.QUEUED,
            pdf_key=key,
            page_count=page_count,
            sha256=sha256,
            price=price,
            currency=currency,
            paper_invoice_fee=fee,
        )
        # The request was accepted (created), its PDF stored and checked (rendered), and it waits for dispatch (queued):
        # one transaction writes the letter in `queued` with the three history entries.
        history = [LetterEvent(status=s.value, occurred_at=now, source=SOURCE) for s in UNSUBMITTED]
        if letters.create(letter, history, request_token=token):
            publish_change(events, letter, None)
            logger.info("letter queued", extra={"org_id": org_id, "letter_id": letter_id, "pages": page_count})
        queue.send(DispatchMessage(org_id=org_id, letter_id=letter_id))
        return get_letter(letters, documents, org_id, letter_id)


def upload_key(org_id: str, letter_id: str) -> str:
    """Where the client PUTs a letter's PDF; the bucket's event for this prefix checks and queues the letter."""
    return f"{UPLOAD_PREFIX}{org_id}/{letter_id}.pdf"


UPLOAD_PREFIX = "uploads/letters/"


def _await_upload(
    letters: LetterStore,
    documents: DocumentStore,
    events: Publisher,
    letter: Letter,
    request_token: str,
) -> LetterView:
    """Store the letter in `created`, waiting for its PDF, and answer with a presigned PUT for it: the 6 MB of
    a Lambda invocation never decides how large a letter can be. `letter_uploaded` checks and queues it."""
    history = [LetterEvent(status=LetterStatus.CREATED.value, occurred_at=letter.created_at, source=SOURCE)]
    if letters.create(letter, history, request_token=request_token):
        publish_change(events, letter, None)
        logger.info("letter awaits its upload", extra={"org_id": letter.org_id, "letter_id": letter.letter_id})
    return get_letter(letters, documents, letter.org_id, letter.letter_id)


def letter_uploaded(
    letters: LetterStore, documents: DocumentStore, queue: Sender, events: Publisher, key: str, size: int, now: str
) -> LetterStatus | None:
    """The PDF of a letter arrived at its upload key (S3 event): check it as an inline PDF is checked, then queue
    the letter, or fail it with the check's problems. Idempotent: a letter no longer awaiting is left alone.
    Returns the letter's new status, None when the key is no letter's upload."""
    from postal.documents.check import check_pdf

    match = re.fullmatch(rf"{re.escape(UPLOAD_PREFIX)}([^/]+)/([^/]+)\.pdf", key)
    if match is None:
        return None
    org_id, letter_id = match[1], match[2]
    letter = letters.get(org_id, letter_id)
    if letter is None or not letter.awaiting_upload or letter.pdf_key != key:
        return None
    problem: LetterError | None = None
    page_count, sha256, pdf = 0, "", b""
    if size > MAX_UPLOAD_BYTES:
        problem = error_from_code(
            ProviderErrorCode.FORMAT_ERROR, f"the PDF is {size} bytes; providers take at most {MAX_UPLOAD_BYTES}"
        )
    else:
        pdf = documents.get(key)
        sha256 = hashlib.sha256(pdf).hexdigest()
        try:
            result = check_pdf(pdf, zone_for(letter.provider, letter.address_position))
        except DomainError as exc:  # not a PDF, damaged, encrypted, too complex: the letter fails, with the fix
            problem = error_from_code(ProviderErrorCode.FORMAT_ERROR, exc.message, {"check": exc.code, "fix": exc.fix})
        else:
            page_count = result.page_count
            if not result.ok:
                problem = error_from_code(
                    ProviderErrorCode.FORMAT_ERROR,
                    f"the PDF does not fit the {result.zone_id} window layout",
                    {"problems": [p.model_dump(mode="json") for p in result.problems]},
                )
    target = LetterStatus.FAILED if problem else LetterStatus.QUEUED
    event = LetterEvent(
        status=target.value, occurred_at=now, source=SOURCE, error_code=problem.code if problem else None
    )
    fields: dict[str, Any] = {"awaiting_upload": False, "page_count": page_count, "sha256": sha256}
    if problem is None:
        # Kept where inline letters are kept: the upload prefix expires after two days.
        canonical = pdf_key(org_id, letter_id)
        documents.put_pdf(canonical, pdf, {"letter-id": letter_id, "org-id": org_id, "sha256": sha256})
        fields["pdf_key"] = canonical
        price, currency = _estimate(
            letter.provider,
            letter.recipient.country,
            page_count,
            color=letter.color,
            duplex=letter.duplex,
            postage=letter.postage,
        )
        fields.update({k: v for k, v in (("price", price), ("currency", currency)) if v is not None})
    moved = letters.transition(
        org_id,
        letter_id,
        target,
        event,
        at=now,
        reason="upload_rejected" if problem else None,
        error=problem,
        set_fields=fields,
        extra_condition="awaiting_upload = :awaiting",
        extra_values={":awaiting": True},
    )
    if not moved:
        return None  # another delivery of the same event got there first
    updated = letters.get(org_id, letter_id)
    assert updated is not None
    publish_change(events, updated, letter.status)
    if problem is None:
        queue.send(DispatchMessage(org_id=org_id, letter_id=letter_id))
    logger.info("letter upload checked", extra={"org_id": org_id, "letter_id": letter_id, "status": target.value})
    return target


def _event_order(event: LetterEvent) -> tuple[str, int]:
    try:
        rank = FORWARD.index(LetterStatus(event.status))
    except ValueError:
        rank = len(FORWARD)
    return event.occurred_at, rank


def get_letter(letters: LetterStore, documents: DocumentStore, org_id: str, letter_id: str) -> LetterView:
    """One letter with its history (oldest first) and a presigned URL of its PDF."""
    letter = letters.get(org_id, letter_id)
    if letter is None:
        raise NotFound(f"letter '{letter_id}' not found")
    events = one_entry_per_status(sorted(letters.history(org_id, letter_id), key=_event_order))
    if letter.awaiting_upload:
        return LetterView(
            **letter.model_dump(),
            events=events,
            upload_url=documents.upload_url(letter.pdf_key, content_type="application/pdf"),
            upload_expires_in=documents.presign_seconds,
        )
    return LetterView(
        **letter.model_dump(),
        events=events,
        pdf_url=documents.download_url(letter.pdf_key, filename=f"{letter_id}.pdf"),
    )


def list_letters(
    letters: LetterStore,
    org_id: str,
    *,
    status: LetterStatus | None,
    customer_id: str | None,
    created_from: str | None,
    created_to: str | None,
    limit: int,
    cursor: str | None,
) -> LetterPage:
    if status and customer_id:
        raise BadRequest("filter by status or by customer_id, not both", code="conflicting_filters")
    items, next_cursor = letters.list(
        org_id,
        status=status.value if status else None,
        customer_id=customer_id,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )
    return LetterPage(letters=items, next_cursor=next_cursor)


CANCEL_WAIT_S = 3.0  # how long a cancel waits for a submission in progress (the API call has 29 s)
CANCEL_POLL_S = 0.2


def _wait_for_submission(
    letters: LetterStore, org_id: str, letter_id: str, sleep: Callable[[float], None], wait_s: float
) -> Letter:
    """The letter once no longer being handed to the provider, or as it is after `wait_s`."""
    waited = 0.0
    while True:
        letter = letters.get(org_id, letter_id)
        assert letter is not None  # letters are never deleted
        if letter.status not in UNSUBMITTED or waited >= wait_s:
            return letter
        sleep(CANCEL_POLL_S)
        waited += CANCEL_POLL_S


def cancel_letter(
    letters: LetterStore,
    providers: ProviderFactory,
    events: Publisher,
    org_id: str,
    letter_id: str,
    now: str,
    *,
    sleep: Callable[[float], None] | None = None,
    wait_s: float | None = None,
) -> CancelOut:
    """Cancel locally before submission, else at the provider while it still allows it (409 with its reason).

    A letter being handed to the provider right now is waited for (up to `wait_s`), then cancelled at the provider;
    if the hand-over takes longer, the cancel is recorded at once and `cancel_queued` says so (202): the dispatch
    that holds the letter finds it cancelled when the provider answers and withdraws it there.
    """
    letter = letters.get(org_id, letter_id)
    if letter is None:
        raise NotFound(f"letter '{letter_id}' not found")
    if letter.status is LetterStatus.CANCELLED:
        return CancelOut(letter_id=letter_id, status=letter.status, cancelled_at_provider=False)
    if letter.status in FINAL or letter.status not in CANCELLABLE:
        raise Conflict(
            f"the letter is {letter.status.value}; it can no longer be cancelled",
            code="letter_not_cancellable",
            details={"status": letter.status.value},
        )
    event = LetterEvent(status=LetterStatus.CANCELLED.value, occurred_at=now, source=SOURCE, reason="cancelled_by_user")
    if letter.status in UNSUBMITTED:
        # Only while no dispatch holds the letter: a claimed letter may be at the provider a moment from now.
        stale = _iso_before(now, CLAIM_TTL_S)
        if letters.transition(
            org_id,
            letter_id,
            LetterStatus.CANCELLED,
            event,
            at=now,
            reason="cancelled_by_user",
            extra_condition="(attribute_not_exists(claimed_at) OR claimed_at < :stale)",
            extra_values={":stale": stale},
        ):
            cancelled = letters.get(org_id, letter_id)
            assert cancelled is not None
            publish_change(events, cancelled, letter.status)
            return CancelOut(letter_id=letter_id, status=LetterStatus.CANCELLED, cancelled_at_provider=False)
        letter = _wait_for_submission(
            letters, org_id, letter_id, sleep or time.sleep, CANCEL_WAIT_S if wait_s is None else wait_s
        )
        if letter.status in UNSUBMITTED and letters.transition(
            org_id, letter_id, LetterStatus.CANCELLED, event, at=now, reason="cancelled_by_user"
        ):
            cancelled = letters.get(org_id, letter_id)
            assert cancelled is not None
            publish_change(events, cancelled, letter.status)
            logger.info("cancel queued behind a submission", extra={"org_id": org_id, "letter_id": letter_id})
            return CancelOut(
                letter_id=letter_id, status=LetterStatus.CANCELLED, cancelled_at_provider=False, cancel_queued=True
            )
        letter = letters.get(org_id, letter_id) or letter
        if letter.status is LetterStatus.CANCELLED:
            return CancelOut(letter_id=letter_id, status=letter.status, cancelled_at_provider=False)
    if letter.provider_letter_id is None or letter.status not in CANCELLABLE:
        raise Conflict(
            f"the letter is {letter.status.value}; it can no longer be cancelled",
            code="letter_not_cancellable",
            details={"status": letter.status.value},
        )
    try:
        # The connection the letter went through, even after a switch of provider.
        providers.for_ref(org_id, letter.secret_ref).cancel(letter.provider_letter_id)
    except ProviderError as exc:
        if exc.retryable:
            raise ProviderUnavailable(exc.message, fix="retry the cancel later") from exc
        raise Conflict(
            f"the provider refused to cancel: {exc.message}",
            code="cancel_refused",
            details={
                "provider": letter.provider,
                "provider_code": exc.details.get("provider_code"),
                "request_id": exc.details.get("request_id"),
            },
            fix="the letter is already in production; it will be mailed",
        ) from exc
    previous = letter.status
    if letters.transition(org_id, letter_id, LetterStatus.CANCELLED, event, at=now, reason="cancelled_by_user"):
        cancelled = letters.get(org_id, letter_id)
        assert cancelled is not None
        publish_change(events, cancelled, previous)
    logger.info("letter cancelled at provider", extra={"org_id": org_id, "letter_id": letter_id})
    return CancelOut(letter_id=letter_id, status=LetterStatus.CANCELLED, cancelled_at_provider=True)


class PriceOut(PriceQuote):
    """`GET .../prices`: a price per letter, exact from the connected provider or estimated from a public table."""

    provider: ProviderName
    estimate: bool = Field(
        description="True when the price comes from the provider's public price table (before connecting, for "
        "another provider than the connected one, or for a provider without a price endpoint); false when the "
        "connected provider quoted it for this org"
    )


def quote(
    records: Records,
    providers: ProviderFactory,
    org_id: str,
    *,
    country: str,
    pages: int,
    color: bool,
    duplex: bool,
    postage: Postage,
    volume: int,
    provider: ProviderName | None = None,
) -> PriceOut:
    """A price before sending: the connected provider's own quote, or (before connecting, or for another provider)
    an estimate from that provider's public price table."""
    from postal.providers.prices import price_table

    if not is_country(country):
        raise ValidationFailed(
            f"'{country}' is not an ISO 3166-1 alpha-2 country code",
            details=[{"field": "country", "problem": "unknown country"}],
            fix="give the destination's two-letter ISO country code, e.g. CH",
        )
    require_postage_available(postage, country)
    request = PriceRequest(
        country=country.upper(), pages=pages, color=color, duplex=duplex, postage=postage, volume=volume
    )
    integration = records.get_integration(org_id, consistent=True)
    connected = integration.provider if integration.status == IntegrationStatus.CONNECTED else None
    priced = provider or connected
    if priced is not None:
        require_capable(priced.value, postage=postage, country=country, pages=pages, color=color, duplex=duplex)
    if connected is not None and provider in (None, connected):
        exact = _price(providers, org_id)(request)
        return PriceOut(**exact.model_dump(), provider=connected, estimate=exact.source != "provider")
    if provider is None:
        raise ValidationFailed(
            "without a connected integration, say which provider to price",
            code="provider_required",
            details=[{"field": "provider", "problem": "required while the postal integration is not connected"}],
            fix="add provider=pingen, postgrid, mysendingbox or sandbox for an estimate from its public prices",
        )
    try:
        table = price_table(provider.value)
    except KeyError as exc:
        raise Conflict(
            f"{provider.value} has no public price list: its prices are the print house's own",
            code="no_public_price",
            fix=f"connect {provider.value} for its quote, or ask for an estimate from another provider",
        ) from exc
    try:
        estimate = table.quote(request, provider=provider.value)
    except ProviderError as exc:
        raise provider_error(exc) from exc
    return PriceOut(**estimate.model_dump(), provider=provider, estimate=True)


def quote_run(records: Records, providers: ProviderFactory, org_id: str, run_date: date, now: str) -> RunQuote:
    """The price of what the nightly run of `run_date` would post, from the connected provider."""
    from postal import collection

    require_connected(records, org_id)
    return collection.quote_run(records, _price(providers, org_id), org_id, run_date, now)


def _price(providers: ProviderFactory, org_id: str) -> Callable[[PriceRequest], PriceQuote]:
    """The org's provider's quote, its refusals mapped to domain errors."""
    provider = providers.for_org(org_id)

    def price(request: PriceRequest) -> PriceQuote:
        try:
            return provider.quote(request)
        except ProviderError as exc:
            raise provider_error(exc) from exc

    return price


def _iso_before(now: str, seconds: int) -> str:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""The letters API (PRODUCT.md §2.5, §4): send, follow, list, cancel, quote.

Handlers stay thin: they call these functions with the adapters from `postal.deps`. Nothing here logs a name or
an address: ids, statuses and counts only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from postal import idempotency
from postal.addresses import require_valid
from postal.clock import new_id
from postal.documents.zones import zone_for
from postal.errors import BadRequest, Conflict, DomainError, NotFound, ValidationFailed
from postal.letters import (
    CANCELLABLE,
    FINAL,
    FORWARD,
    UNSUBMITTED,
    CancelOut,
    Letter,
    LetterEvent,
    LetterIn,
    LetterPage,
    LetterView,
    ProviderUnavailable,
    require_postage_available,
    require_send,
    status_event_detail,
)
from postal.models import Address, AddressState, IntegrationStatus, LetterStatus, Postage, PostalIntegration
from postal.providers.base import PriceQuote, PriceRequest, ProviderError, ProviderErrorCode
from postal.store.records import NotConnected, Records

# Rendering (fpdf2), the PDF check (pypdf), the nightly run and the price tables are imported where they are used:
# dispatch and webhooks import this module for its messages and events and never render.
if TYPE_CHECKING:
    from postal.collection import RunQuote
    from postal.connections import ProviderFactory
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


def provider_error(exc: ProviderError) -> DomainError:
    """A provider's refusal as an API error: transient faults 503, everything else 409/422 with the fix."""
    details = {"provider_code": exc.details.get("provider_code"), "request_id": exc.details.get("request_id")}
    if exc.retryable or exc.code == ProviderErrorCode.PROVIDER_UNAVAILABLE:
        return ProviderUnavailable(exc.message, details=details, fix=exc.fix)
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
    require_valid(customer.billing_address, where="billing_address")
    return customer.billing_address, customer_id


def _decode_pdf(pdf_base64: str) -> bytes:
    try:
        return base64.b64decode(pdf_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("pdf_base64 is not valid base64", code="invalid_pdf_encoding") from exc


def _estimate(provider: str, address: Address, body: LetterIn, pages: int) -> tuple[Decimal | None, str | None]:
    """A price from the configured table, when there is one for the provider (the provider's own price wins)."""
    from postal.providers.prices import price_table

    try:
        quote = price_table(provider).quote(
            PriceRequest(
                country=address.country, pages=pages, color=body.color, duplex=body.duplex, postage=body.postage
            ),
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
    from postal.documents.service import DocumentIn, render_to_s3

    require_send(body)
    idem_key = idempotency.validate_key(idempotency_key, required=True, what="sending a letter")
    assert idem_key is not None
    integration = require_connected(records, org_id)
    provider = integration.provider
    assert provider is not None
    address, customer_id = _recipient(records, org_id, body)
    require_postage_available(body.postage, address.country)

    pdf: bytes | None = None
    page_count = 0
    if body.pdf_base64 is not None:
        pdf = _decode_pdf(body.pdf_base64)
        result = check_pdf(pdf, zone_for(provider.value, body.address_position))
        if not result.ok:
            raise ValidationFailed(
                f"the PDF does not fit the {result.zone_id} window layout",
                code=ProviderErrorCode.FORMAT_ERROR,
                details=[p.model_dump(mode="json") for p in result.problems],
                fix="fix the PDF as each problem says (or check it first with POST .../templates/{id}/check)",
            )
        page_count = result.page_count

    is_new, letter_id = idempotency.claim(keys, "letters", org_id, idem_key, body, new_id("let"))
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
        key, sha256, page_count = stored.s3_key, stored.sha256, stored.page_count

    price, currency = _estimate(provider.value, address, body, page_count)
    letter = Letter(
        letter_id=letter_id,
        org_id=org_id,
        status=LetterStatus.QUEUED,
        customer_id=customer_id,
        recipient=address,
        postage=body.postage,
        color=body.color,
        duplex=body.duplex,
        address_position=body.address_position,
        pdf_key=key,
        page_count=page_count,
        sha256=sha256,
        provider=provider.value,
        price=price,
        currency=currency,
        created_at=now,
        updated_at=now,
    )
    # The request was accepted (created), its PDF stored and checked (rendered), and it waits for dispatch (queued):
    # one transaction writes the letter in `queued` with the three history entries.
    history = [LetterEvent(status=s.value, occurred_at=now, source=SOURCE) for s in UNSUBMITTED]
    if letters.create(letter, history):
        publish_change(events, letter, None)
        logger.info("letter queued", extra={"org_id": org_id, "letter_id": letter_id, "pages": page_count})
    queue.send(DispatchMessage(org_id=org_id, letter_id=letter_id))
    return get_letter(letters, documents, org_id, letter_id)


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
    events = sorted(letters.history(org_id, letter_id), key=_event_order)
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


def cancel_letter(
    letters: LetterStore, providers: ProviderFactory, events: Publisher, org_id: str, letter_id: str, now: str
) -> CancelOut:
    """Cancel locally before submission, else at the provider while it still allows it (409 with its reason)."""
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
        letter = letters.get(org_id, letter_id) or letter
        if letter.status in UNSUBMITTED:
            raise Conflict(
                "the letter is being handed to the provider right now",
                code="letter_being_submitted",
                fix="retry the cancel in a few seconds",
            )
        if letter.status is LetterStatus.CANCELLED:
            return CancelOut(letter_id=letter_id, status=letter.status, cancelled_at_provider=False)
    if letter.provider_letter_id is None or letter.status not in CANCELLABLE:
        raise Conflict(
            f"the letter is {letter.status.value}; it can no longer be cancelled",
            code="letter_not_cancellable",
            details={"status": letter.status.value},
        )
    try:
        providers.for_org(org_id).cancel(letter.provider_letter_id)
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
) -> PriceQuote:
    """A price before sending, from the connected provider (its price endpoint, else its configured table)."""
    require_connected(records, org_id)
    require_postage_available(postage, country)
    request = PriceRequest(
        country=country.upper(), pages=pages, color=color, duplex=duplex, postage=postage, volume=volume
    )
    return _price(providers, org_id)(request)


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

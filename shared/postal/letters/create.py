"""Sending a letter (`POST .../letters`, and the nightly run's letters): check the request, then store the letter
in `queued` with its PDF (inline, rendered by this service) for dispatch, or in `created` waiting for its upload.
Nothing here logs a name or an address: ids, statuses and counts only."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from postal import idempotency
from postal.addresses import mailable, require_valid
from postal.clock import new_id
from postal.documents.zones import zone_for
from postal.errors import BadRequest, Conflict, ValidationFailed
from postal.letters.changes import publish_change
from postal.letters.cover_page import behind_cover_page, with_cover_page
from postal.letters.messages import SOURCE, DispatchMessage, Publisher, Sender
from postal.letters.model import UNSUBMITTED, Letter, LetterEvent, LetterView
from postal.letters.provider import estimate, require_connected
from postal.letters.requests import LetterIn, require_postage_available, require_send, require_window_shows
from postal.letters.uploads import await_upload, pdf_key, upload_key
from postal.letters.views import get_letter
from postal.models import Address, AddressState, LetterStatus, Money, ProviderName
from postal.ports import LetterPorts, Stores
from postal.providers.base import ProviderErrorCode
from postal.providers.capabilities import require_capable

# Rendering (fpdf2) and the PDF check (pypdf) are imported where they are used.
if TYPE_CHECKING:
    from postal.ports import Documents, Letters

logger = Logger(child=True)


@dataclass(frozen=True)
class _StoredPdf:
    """A queued letter's PDF in S3, and what was learnt making it."""

    key: str
    sha256: str
    page_count: int
    fee: Money | None


def create_letter(ports: LetterPorts, org_id: str, body: LetterIn, idempotency_key: str | None, now: str) -> LetterView:
    """Check, store and queue one letter (202). A replayed `Idempotency-Key` returns the letter it created."""
    stores, documents, keys, queue, events = ports.stores, ports.documents, ports.keys, ports.dispatch, ports.events
    letters = stores.letters
    require_send(body)
    idem_key = idempotency.validate_key(idempotency_key, required=True, what="sending a letter")
    assert idem_key is not None
    integration = require_connected(stores, org_id)
    provider = integration.provider
    assert provider is not None
    address, customer_id = _recipient(stores, org_id, body)
    require_postage_available(body.postage, address.country)
    require_capable(provider.value, postage=body.postage, country=address.country, color=body.color, duplex=body.duplex)
    inline = None
    if body.pdf_base64 is not None:
        inline = _checked_inline_pdf(stores, org_id, body, body.pdf_base64, provider, address, customer_id, now)

    is_new, letter_id = idempotency.claim(keys, "letters", org_id, idem_key, body, new_id("let"))
    with idempotency.released_on_refusal(keys, "letters", org_id, idem_key, body, is_new=is_new):
        if not is_new:
            replayed = _replay(letters, documents, queue, org_id, letter_id)
            if replayed is not None:
                return replayed
            # The first attempt died before writing the letter: finish it under the id it reserved.

        token = idempotency.request_token("letters", org_id, idem_key, body)
        requested = _requested(org_id, letter_id, customer_id, address, body, provider, now)
        if body.upload:
            awaiting = Letter(
                **requested,
                status=LetterStatus.CREATED,
                pdf_key=upload_key(org_id, letter_id),
                page_count=0,
                sha256="",
                awaiting_upload=True,
            )
            return await_upload(letters, documents, events, awaiting, token)
        stored = _store_pdf(stores, documents, org_id, letter_id, body, inline, now)
        return _queue(letters, documents, queue, events, requested, stored, body, token, now)


def _recipient(stores: Stores, org_id: str, body: LetterIn) -> tuple[Address, str | None]:
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
    customer = stores.customers.get_customer(org_id, customer_id)
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


def _checked_inline_pdf(
    stores: Stores,
    org_id: str,
    body: LetterIn,
    pdf_base64: str,
    provider: ProviderName,
    address: Address,
    customer_id: str | None,
    now: str,
) -> tuple[bytes, int]:
    """The inline PDF, checked for the provider's window (422 with every problem), behind its cover page when
    asked (else its window must show the recipient); with its page count."""
    from postal.documents.check import check_pdf
    from postal.documents.window_text import window_text

    pdf = _decode_pdf(pdf_base64)
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
        pdf, added = with_cover_page(stores, org_id, pdf, address, customer_id, zone.id, body.duplex, now)
        assert added == cover_pages
        page_count += added
    else:
        require_window_shows(window_text(pdf, zone), address, zone.id)
    return pdf, page_count


def _replay(letters: Letters, documents: Documents, queue: Sender, org_id: str, letter_id: str) -> LetterView | None:
    """The letter a repeated request created, or None when the first attempt never wrote it."""
    existing = letters.get(org_id, letter_id)
    if existing is None:
        return None
    if existing.status is LetterStatus.QUEUED:
        # The first attempt may have died before its message was sent; a duplicate message is harmless
        # (dispatch claims the letter once), a missing one would leave it queued forever.
        queue.send(DispatchMessage(org_id=org_id, letter_id=letter_id))
    return get_letter(letters, documents, org_id, letter_id)


def _requested(
    org_id: str,
    letter_id: str,
    customer_id: str | None,
    address: Address,
    body: LetterIn,
    provider: ProviderName,
    now: str,
) -> dict[str, Any]:
    """What the request says about the letter, whether its PDF is here, rendered, or still to be uploaded."""
    return {
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


def _store_pdf(
    stores: Stores,
    documents: Documents,
    org_id: str,
    letter_id: str,
    body: LetterIn,
    inline: tuple[bytes, int] | None,
    now: str,
) -> _StoredPdf:
    """Store the checked inline PDF, or render the requested document, at the letter's PDF key."""
    key = pdf_key(org_id, letter_id)
    if inline is not None:
        pdf, page_count = inline
        sha256 = hashlib.sha256(pdf).hexdigest()
        documents.put_pdf(key, pdf, {"letter-id": letter_id, "org-id": org_id, "sha256": sha256})
        return _StoredPdf(key=key, sha256=sha256, page_count=page_count, fee=None)
    from postal.documents.rendering import DocumentIn, render_to_s3

    assert body.document is not None
    doc = body.document
    stored = render_to_s3(
        stores,
        documents,
        org_id,
        DocumentIn(
            template_id=doc.template_id, customer_id=doc.customer_id, invoice_ids=doc.invoice_ids, body=doc.body
        ),
        now,
        s3_key=key,
    )
    return _StoredPdf(
        key=stored.s3_key, sha256=stored.sha256, page_count=stored.page_count, fee=stored.paper_invoice_fee
    )


def _queue(
    letters: Letters,
    documents: Documents,
    queue: Sender,
    events: Publisher,
    requested: dict[str, Any],
    stored: _StoredPdf,
    body: LetterIn,
    token: str,
    now: str,
) -> LetterView:
    """Write the letter in `queued` and send it to dispatch.

    The request was accepted (created), its PDF stored and checked (rendered), and it waits for dispatch (queued):
    one transaction writes the letter in `queued` with the three history entries.
    """
    org_id, letter_id = requested["org_id"], requested["letter_id"]
    address: Address = requested["recipient"]
    price, currency = estimate(
        requested["provider"],
        address.country,
        stored.page_count,
        color=body.color,
        duplex=body.duplex,
        postage=body.postage,
    )
    letter = Letter(
        **requested,
        status=LetterStatus.QUEUED,
        pdf_key=stored.key,
        page_count=stored.page_count,
        sha256=stored.sha256,
        price=price,
        currency=currency,
        paper_invoice_fee=stored.fee,
    )
    history = [LetterEvent(status=s.value, occurred_at=now, source=SOURCE) for s in UNSUBMITTED]
    if letters.create(letter, history, request_token=token):
        publish_change(events, letter, None)
        logger.info("letter queued", extra={"org_id": org_id, "letter_id": letter_id, "pages": stored.page_count})
    queue.send(DispatchMessage(org_id=org_id, letter_id=letter_id))
    return get_letter(letters, documents, org_id, letter_id)

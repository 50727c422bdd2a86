"""Rendering documents: the window standard a template is laid out for, rendering for a customer (and invoices),
storing the PDF in S3, and replaying an idempotent request.

`render_to_s3` is the one way a document is produced: the documents API, the nightly collection run and letter
sending all call it, so a PDF looks the same whichever path made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field, StringConstraints

from postal import idempotency
from postal.addresses import mailable
from postal.clock import new_id
from postal.codes import Code
from postal.documents.render import DocumentKind, DocumentRequest, RenderedDocument, render_document
from postal.documents.zones import Zone, get_zone, zone_for
from postal.errors import Conflict, NotFound, ValidationFailed
from postal.models import (
    AddressPosition,
    Branding,
    Customer,
    Identifier,
    IntegrationStatus,
    Invoice,
    InvoiceRecord,
    InvoiceStatus,
    Language,
    Layout,
    Money,
    Org,
    PostalIntegration,
    ProviderName,
    Strict,
    Template,
    TemplateKind,
)
from postal.ports import Documents, Stores

logger = Logger(child=True)

# Documents render with these limits too: a rendered letter beyond them could not be mailed anyway.
MAX_INVOICES_PER_DOCUMENT = 20
DEFAULT_PROVIDER = "generic"  # zones when nothing is connected: din5008-b (left) / sn010130-right (right)
DUNNING = frozenset({TemplateKind.REMINDER, TemplateKind.FINAL_NOTICE, TemplateKind.PAYMENT_PLAN_REMINDER})


# ------------------------------------------------------------------------------------------------ window standard


def address_position(template: Template) -> str:
    """`left`/`right` for the zone lookup. Custom coordinates have no standard zone: they use the left window
    (and block the postal integration on their own, see `postal.integration.template_problems`)."""
    return "right" if template.address_position == AddressPosition.RIGHT else "left"


def zone_for_template(
    org: Org, integration: PostalIntegration, template: Template, provider: ProviderName | None = None
) -> Zone:
    """The window standard a template's documents are laid out for and checked against.

    In order: the provider the caller names (a check before connecting), the connected provider (whose printer
    reads the window), the org's own `window_standard`, then the generic default (DIN 5008 B / SN 010130 right).
    The connected provider comes before the org's standard because a letter laid out for another window would be
    refused or mis-addressed by that provider.
    """
    position = address_position(template)
    if provider is not None:
        return zone_for(provider.value, position)
    if integration.status == IntegrationStatus.CONNECTED and integration.provider is not None:
        return zone_for(integration.provider.value, position)
    if org.window_standard:
        try:
            return get_zone(org.window_standard)
        except NotFound as exc:
            raise Conflict(
                f"the organisation's window standard '{org.window_standard}' is unknown",
                code="unknown_window_standard",
                details=exc.details,
            ) from exc
    return zone_for(DEFAULT_PROVIDER, position)


# ------------------------------------------------------------------------------------------------ render to S3


class DocumentIn(Strict):
    """`POST /v1/orgs/{org_id}/documents`: what to render."""

    template_id: Identifier
    customer_id: Identifier
    invoice_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_INVOICES_PER_DOCUMENT)
    body: Annotated[str, StringConstraints(max_length=10_000)] | None = Field(
        default=None, description="Free text, printed after the generated content (letters)"
    )
    document_date: date | None = Field(default=None, description="Printed date; today (UTC) when omitted")


class StoredDocument(BaseModel):
    """A rendered document in S3 and a short-lived URL to download it."""

    document_id: str
    org_id: str
    template_id: str
    customer_id: str
    invoice_ids: list[str]
    kind: TemplateKind
    language: Language
    zone_id: str
    paper: str
    page_count: int
    sha256: str
    size: int
    s3_key: str
    paper_invoice_fee: Money | None
    created_at: str
    url: str
    expires_in: int


def document_key(org_id: str, created: datetime, document_id: str) -> str:
    """`orgs/{org_id}/documents/{yyyy}/{mm}/{dd}/{document_id}.pdf` (by creation date, UTC)."""
    return f"orgs/{org_id}/documents/{created:%Y/%m/%d}/{document_id}.pdf"


def _parse_now(now: str) -> datetime:
    return datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(UTC)


def _recipient(customer: Customer) -> Any:
    if customer.billing_address is None:
        raise ValidationFailed(
            f"customer '{customer.customer_id}' has no billing address",
            code=Code.MISSING_ADDRESS_FIELDS,
            details=[{"field": "billing_address", "problem": "required"}],
            fix="set the customer's billing_address (PUT .../customers/{customer_id})",
        )
    return mailable(customer.billing_address, where="billing_address")


def _invoices(stores: Stores, org_id: str, body: DocumentIn, kind: TemplateKind) -> list[InvoiceRecord]:
    ids = list(dict.fromkeys(body.invoice_ids))  # a repeated id would print (and count) the invoice twice
    if (kind is TemplateKind.INVOICE or kind in DUNNING) and not ids:
        raise ValidationFailed(
            f"a {kind.value} needs at least one invoice",
            code="invoices_required",
            details=[{"field": "invoice_ids", "problem": "required"}],
        )
    found = [stores.invoices.get_invoice(org_id, invoice_id) for invoice_id in ids]  # 404 for an unknown id
    for invoice in found:
        # Never print one customer's invoice on another customer's paper.
        if invoice.customer_id != body.customer_id:
            raise ValidationFailed(
                f"invoice '{invoice.invoice_id}' belongs to another customer",
                code="invoice_customer_mismatch",
                details=[{"field": "invoice_ids", "invoice_id": invoice.invoice_id}],
            )
        if kind in DUNNING and invoice.status != InvoiceStatus.OPEN:
            raise Conflict(
                f"invoice '{invoice.invoice_id}' is {invoice.status.value}; reminders are only for open invoices",
                code="invoice_not_open",
                details={"invoice_id": invoice.invoice_id, "status": invoice.status.value},
            )
    return found


def paper_invoice_fee(org: Org, customer: Customer, kind: TemplateKind, *, connected: bool) -> Money | None:
    """The org's paper invoice fee, on invoices to customers who get paper (PRODUCT.md §2.4).

    Only on the invoice itself: reminders list what is still open, and charging the fee again on every reminder
    would bill it more than once. Paper needs the postal integration: from the moment it is disconnected no
    invoice carries the fee, even before the cascade has reset the customer's `paper_invoice`.
    """
    if kind is TemplateKind.INVOICE and customer.paper_invoice and connected and org.paper_invoice_fee is not None:
        return org.paper_invoice_fee
    return None


@dataclass(frozen=True)
class RenderedFor:
    """A document rendered for one customer, with what it was rendered from."""

    template: Template
    customer: Customer
    invoices: list[InvoiceRecord]
    zone: Zone
    fee: Money | None
    rendered: RenderedDocument


def render_for(stores: Stores, org_id: str, body: DocumentIn, now: str) -> RenderedFor:
    """Render a template for a customer (and invoices), in memory.

    Raises `NotFound` (template, customer, invoice), `ValidationFailed` (no or invalid billing address, invoices
    missing or of another customer, an address that does not fit the window), `Conflict` (custom layouts, which are
    the org's own PDFs and are not rendered here; reminders for invoices that are no longer open).
    """
    org = stores.orgs.get_org(org_id)
    template = stores.templates.get_template(org_id, body.template_id)
    if template.layout == Layout.CUSTOM:
        raise Conflict(
            f"template '{template.template_id}' uses the organisation's own PDF layout, which is not rendered here",
            code="custom_layout_not_rendered",
            fix="send the finished PDF as a letter (POST .../letters), or set the template's layout to 'standard'",
        )
    customer = stores.customers.get_customer(org_id, body.customer_id)
    recipient = _recipient(customer)
    invoices = _invoices(stores, org_id, body, template.kind)
    integration = stores.integrations.get_integration(org_id)
    zone = zone_for_template(org, integration, template)
    fee = paper_invoice_fee(org, customer, template.kind, connected=integration.status == IntegrationStatus.CONNECTED)
    rendered = render_document(
        DocumentRequest(
            kind=DocumentKind(template.kind.value),
            language=template.language,
            zone_id=zone.id,
            branding=org.branding or Branding(name=org.name),
            recipient=recipient,
            invoices=[Invoice.model_validate(inv.model_dump(include=set(Invoice.model_fields))) for inv in invoices],
            paper_invoice_fee=fee,
            body=body.body,
            document_date=body.document_date or _parse_now(now).date(),
        )
    )
    return RenderedFor(template=template, customer=customer, invoices=invoices, zone=zone, fee=fee, rendered=rendered)


def render_to_s3(
    stores: Stores,
    store: Documents,
    org_id: str,
    body: DocumentIn,
    now: str,
    *,
    s3_key: str | None = None,
) -> StoredDocument:
    """Render a template for a customer (and invoices) and store the PDF in S3; returns it with a download URL.

    `s3_key` (from `create_document`'s idempotency claim) fixes where the PDF goes; by default a new document id.
    Raises what `render_for` raises.
    """
    created = _parse_now(now)
    done = render_for(stores, org_id, body, now)
    key = s3_key or document_key(org_id, created, new_id("doc"))
    document_id = key.rsplit("/", 1)[1].removesuffix(".pdf")
    store.put_pdf(key, done.rendered.pdf, _metadata(org_id, document_id, done, now))
    logger.info(
        "document rendered",
        extra={
            "org_id": org_id,
            "document_id": document_id,
            "kind": done.template.kind.value,
            "pages": done.rendered.page_count,
        },
    )
    return _stored(store, org_id, document_id, key, done, now)


def _metadata(org_id: str, document_id: str, done: RenderedFor, now: str) -> dict[str, str]:
    """The S3 object metadata of a rendered document, which `_replay` reads back.

    Ids, hashes and counts only: names and addresses are personal data and stay inside the PDF.
    """
    template, rendered = done.template, done.rendered
    invoice_ids = [inv.invoice_id for inv in done.invoices]
    metadata = {
        "document-id": document_id,
        "org-id": org_id,
        "template-id": template.template_id,
        "kind": template.kind.value,
        "customer-id": done.customer.customer_id,
        "invoice-count": str(len(invoice_ids)),
        "invoice-ids": ",".join(invoice_ids),
        "page-count": str(rendered.page_count),
        "sha256": rendered.sha256,
        "zone-id": done.zone.id,
        "language": template.language.value,
        "paper": rendered.paper,
        "created-at": now,
    }
    if done.fee is not None:
        metadata["paper-invoice-fee"] = f"{done.fee.amount} {done.fee.currency}"
    return metadata


def _stored(store: Documents, org_id: str, document_id: str, key: str, done: RenderedFor, now: str) -> StoredDocument:
    template, rendered = done.template, done.rendered
    return StoredDocument(
        document_id=document_id,
        org_id=org_id,
        template_id=template.template_id,
        customer_id=done.customer.customer_id,
        invoice_ids=[inv.invoice_id for inv in done.invoices],
        kind=template.kind,
        language=template.language,
        zone_id=done.zone.id,
        paper=rendered.paper,
        page_count=rendered.page_count,
        sha256=rendered.sha256,
        size=len(rendered.pdf),
        s3_key=key,
        paper_invoice_fee=done.fee,
        created_at=now,
        url=store.download_url(key, filename=f"{template.kind.value}-{document_id}.pdf"),
        expires_in=store.presign_seconds,
    )


def create_document(
    stores: Stores,
    store: Documents,
    keys: idempotency.KeyStore,
    org_id: str,
    body: DocumentIn,
    now: str,
    idempotency_key: str | None,
) -> StoredDocument:
    """`POST .../documents`: render once per `Idempotency-Key`; a retry returns the document already stored."""
    key = idempotency.validate_key(idempotency_key, required=False, what="rendering a document")
    if key is None:
        return render_to_s3(stores, store, org_id, body, now)
    fresh = document_key(org_id, _parse_now(now), new_id("doc"))
    is_new, s3_key = idempotency.claim(keys, "documents", org_id, key, body, fresh)
    if not is_new:
        replay = _replay(store, s3_key, org_id)
        if replay is not None:
            return replay
        # The first attempt died before storing the PDF: finish it under the key it reserved.
    with idempotency.released_on_refusal(keys, "documents", org_id, key, body, is_new=is_new):
        return render_to_s3(stores, store, org_id, body, now, s3_key=s3_key)


def _replay(store: Documents, key: str, org_id: str) -> StoredDocument | None:
    """The stored document for a repeated idempotent request, or None when there is none yet."""
    head = store.head(key)
    if head is None:
        return None
    meta = head.metadata
    fee_amount, _, fee_currency = meta.get("paper-invoice-fee", "").partition(" ")
    kind = TemplateKind(meta["kind"])
    document_id = meta["document-id"]
    return StoredDocument(
        document_id=document_id,
        org_id=org_id,
        template_id=meta["template-id"],
        customer_id=meta["customer-id"],
        invoice_ids=[i for i in meta.get("invoice-ids", "").split(",") if i],
        kind=kind,
        language=Language(meta["language"]),
        zone_id=meta["zone-id"],
        paper=meta.get("paper", "A4"),
        page_count=int(meta["page-count"]),
        sha256=meta["sha256"],
        size=head.size,
        s3_key=key,
        paper_invoice_fee=Money(amount=fee_amount, currency=fee_currency) if fee_amount else None,
        created_at=meta["created-at"],
        url=store.download_url(key, filename=f"{kind.value}-{document_id}.pdf"),
        expires_in=store.presign_seconds,
    )

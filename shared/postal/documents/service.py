"""Documents as a service: render to S3, custom template PDF uploads, and the template compatibility check.

`render_to_s3` is the one way a document is produced: the documents API, the nightly collection run and letter
sending all call it, so a PDF looks the same whichever path made it.

Custom template PDFs can arrive two ways (`POST .../templates/{id}/pdf`):
- in the body, `Content-Type: application/pdf` (API Gateway passes it base64-encoded, `isBase64Encoded`), up to
  `MAX_TEMPLATE_BYTES`;
- through S3: `{"upload": true}` returns a presigned PUT URL under `uploads/` (expires with the bucket's 2-day
  lifecycle rule); after the PUT, `{"s3_key": "<the key>"}` registers the file. Same checks, same result.

Either way the PDF is stored at `orgs/{org_id}/templates/{template_id}/{sha256}.pdf` and becomes the template's
`custom_pdf`; a check made for other bytes stops counting (`POST .../check` must run again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from postal import idempotency
from postal.addresses import mailable
from postal.api.errors import validation_details
from postal.clock import new_id
from postal.codes import Code
from postal.documents.check import CheckResult, PdfLimits, check_pdf
from postal.documents.render import DocumentKind, DocumentRequest, RenderedDocument, render_document
from postal.documents.zones import Zone, get_zone, zone_for
from postal.errors import (
    BadRequest,
    Conflict,
    DomainError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from postal.integration import BannerEntry, template_problems
from postal.models import (
    AddressPosition,
    Branding,
    Customer,
    CustomPdf,
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
    TemplateCheck,
    TemplateKind,
)
from postal.ports import Documents, Stores

logger = Logger(child=True)

# The largest template PDF we accept, in the body or through S3: the provider's limit (Pingen: 8 MB), which also
# fits API Gateway's 10 MB payload once base64-encoded.
MAX_TEMPLATE_BYTES = PdfLimits().max_bytes
# Documents render with these limits too: a rendered letter beyond them could not be mailed anyway.
MAX_INVOICES_PER_DOCUMENT = 20
DEFAULT_PROVIDER = "generic"  # zones when nothing is connected: din5008-b (left) / sn010130-right (right)
PREVIEW_DPI = 72
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
    template, customer, zone, fee, rendered = done.template, done.customer, done.zone, done.fee, done.rendered

    key = s3_key or document_key(org_id, created, new_id("doc"))
    document_id = key.rsplit("/", 1)[1].removesuffix(".pdf")
    invoice_ids = [inv.invoice_id for inv in done.invoices]
    # Ids, hashes and counts only: names and addresses are personal data and stay inside the PDF.
    metadata = {
        "document-id": document_id,
        "org-id": org_id,
        "template-id": template.template_id,
        "kind": template.kind.value,
        "customer-id": customer.customer_id,
        "invoice-count": str(len(invoice_ids)),
        "invoice-ids": ",".join(invoice_ids),
        "page-count": str(rendered.page_count),
        "sha256": rendered.sha256,
        "zone-id": zone.id,
        "language": template.language.value,
        "paper": rendered.paper,
        "created-at": now,
    }
    if fee is not None:
        metadata["paper-invoice-fee"] = f"{fee.amount} {fee.currency}"
    store.put_pdf(key, rendered.pdf, metadata)
    logger.info(
        "document rendered",
        extra={"org_id": org_id, "document_id": document_id, "kind": template.kind.value, "pages": rendered.page_count},
    )
    return StoredDocument(
        document_id=document_id,
        org_id=org_id,
        template_id=template.template_id,
        customer_id=customer.customer_id,
        invoice_ids=invoice_ids,
        kind=template.kind,
        language=template.language,
        zone_id=zone.id,
        paper=rendered.paper,
        page_count=rendered.page_count,
        sha256=rendered.sha256,
        size=len(rendered.pdf),
        s3_key=key,
        paper_invoice_fee=fee,
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


# ------------------------------------------------------------------------------------------------ template PDFs


class UploadIn(Strict):
    """JSON body of `POST .../pdf`: ask for an upload URL, or register what was uploaded to it."""

    upload: bool = False
    s3_key: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None


class UploadTicket(BaseModel):
    """Where and how to PUT the PDF, and the call that registers it afterwards."""

    template_id: str
    method: str = "PUT"
    upload_url: str
    headers: dict[str, str]
    s3_key: str
    expires_in: int
    max_bytes: int
    register_body: dict[str, str]


class TemplatePdfView(BaseModel):
    """The template after an upload: its custom PDF, and whether a stored check still applies to it."""

    template_id: str
    layout: Layout
    custom_pdf: CustomPdf
    page_count: int
    check: TemplateCheck | None
    next_step: str


def template_pdf_key(org_id: str, template_id: str, sha256: str) -> str:
    """`orgs/{org_id}/templates/{template_id}/{sha256}.pdf`: content-addressed, so re-uploads never overwrite."""
    return f"orgs/{org_id}/templates/{template_id}/{sha256}.pdf"


def upload_prefix(org_id: str, template_id: str) -> str:
    """Where presigned uploads for one template land (the bucket expires `uploads/` after 2 days)."""
    return f"uploads/{org_id}/{template_id}/"


def _too_large(size: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the PDF is {size / 1048576:.1f} MB, the limit is {MAX_TEMPLATE_BYTES / 1048576:.1f} MB",
        code="file_too_large",
        details={"size": size, "max_bytes": MAX_TEMPLATE_BYTES},
        fix="reduce the file size: downsample images to 300 dpi and subset the fonts",
    )


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _raw_bytes(body: str | None, is_base64: bool) -> bytes:
    """The request body as bytes. Binary bodies come base64-encoded from API Gateway (binary media types)."""
    if not body:
        return b""
    if is_base64:
        # base64 is 4/3 of the payload: refuse a far too large body before decoding it.
        if len(body) * 3 // 4 > MAX_TEMPLATE_BYTES + 3:
            raise _too_large(len(body) * 3 // 4)
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the body is not valid base64", code="invalid_body") from exc
    try:
        # A gateway that passes binary through as text maps bytes 1:1 to code points (latin-1).
        return body.encode("latin-1")
    except UnicodeEncodeError:
        return body.encode("utf-8")  # already mangled by a text decode: the PDF check will say it is unreadable


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise BadRequest("the request body is not valid JSON", code="invalid_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    return value


def _validated[M: BaseModel](model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("the request is invalid", details=validation_details(exc.errors())) from exc


def handle_pdf_post(
    stores: Stores,
    store: Documents,
    org_id: str,
    template_id: str,
    *,
    content_type: str | None,
    body: str | None,
    is_base64: bool,
    now: str,
) -> UploadTicket | TemplatePdfView:
    """`POST .../templates/{id}/pdf`: a PDF body is stored; JSON asks for an upload URL or registers an upload."""
    media = _media_type(content_type)
    data = _raw_bytes(body, is_base64)
    if media == "application/pdf":
        return upload_template_pdf(stores, store, org_id, template_id, data, now)
    if media in ("application/json", ""):
        request = _validated(UploadIn, _json_object(data))
        if request.s3_key is not None and not request.upload:
            return register_upload(stores, store, org_id, template_id, request.s3_key, now)
        if request.upload and request.s3_key is None:
            return upload_ticket(stores, store, org_id, template_id)
        raise ValidationFailed(
            'give either {"upload": true} or {"s3_key": "..."}',
            code="validation_failed",
            details=[{"field": "body", "message": "exactly one of upload or s3_key"}],
        )
    raise UnsupportedMediaType(
        f"unsupported Content-Type '{media}'",
        code="unsupported_media_type",
        fix='send the PDF with Content-Type: application/pdf, or JSON {"upload": true} for an upload URL',
    )


def upload_ticket(stores: Stores, store: Documents, org_id: str, template_id: str) -> UploadTicket:
    """A presigned PUT for a new upload of this template's PDF (the template must exist)."""
    stores.templates.get_template(org_id, template_id)
    key = f"{upload_prefix(org_id, template_id)}{new_id('upl')}.pdf"
    return UploadTicket(
        template_id=template_id,
        upload_url=store.upload_url(key, content_type="application/pdf"),
        headers={"Content-Type": "application/pdf"},
        s3_key=key,
        expires_in=store.presign_seconds,
        max_bytes=MAX_TEMPLATE_BYTES,
        register_body={"s3_key": key},
    )


def register_upload(
    stores: Stores, store: Documents, org_id: str, template_id: str, s3_key: str, now: str
) -> TemplatePdfView:
    """Take a PDF PUT to an upload URL and make it the template's custom PDF."""
    prefix = upload_prefix(org_id, template_id)
    # Only keys this org was handed out for this template: never another org's object, never a path trick.
    if not s3_key.startswith(prefix) or ".." in s3_key or not s3_key.endswith(".pdf"):
        raise ValidationFailed(
            "s3_key is not an upload key of this template",
            code="invalid_upload_key",
            details=[{"field": "s3_key", "message": f"must be a key returned by {{'upload': true}} ({prefix}...)"}],
        )
    stores.templates.get_template(org_id, template_id)
    head = store.head(s3_key)
    if head is None:
        raise NotFound(
            "nothing was uploaded at s3_key (or the upload expired)",
            code="upload_not_found",
            fix='PUT the PDF to the upload URL first, or ask for a new one with {"upload": true}',
        )
    if head.size > MAX_TEMPLATE_BYTES:
        raise _too_large(head.size)
    return upload_template_pdf(stores, store, org_id, template_id, store.get(s3_key), now)


def upload_template_pdf(
    stores: Stores, store: Documents, org_id: str, template_id: str, data: bytes, now: str
) -> TemplatePdfView:
    """Validate a custom template PDF, store it content-addressed and set it as the template's `custom_pdf`.

    Raises `PayloadTooLarge` (413), `UnsupportedMediaType` (415, not a PDF) and `ValidationFailed` (422: empty,
    encrypted, damaged, no pages, too many pages). A stored check survives only if it was made for these bytes.
    """
    if not data:
        raise ValidationFailed("the body is empty", code="empty_body", fix="send the PDF as the request body")
    if len(data) > MAX_TEMPLATE_BYTES:
        raise _too_large(len(data))
    template = stores.templates.get_template(org_id, template_id)
    org = stores.orgs.get_org(org_id)
    zone = zone_for_template(org, stores.integrations.get_integration(org_id), template)
    # Parse it now so an unusable file is refused at upload, not discovered later at check or send time.
    parsed = check_pdf(data, zone, PdfLimits(max_bytes=MAX_TEMPLATE_BYTES))
    sha = hashlib.sha256(data).hexdigest()
    key = template_pdf_key(org_id, template_id, sha)
    store.put_pdf(
        key,
        data,
        {"org-id": org_id, "template-id": template_id, "sha256": sha, "page-count": str(parsed.page_count)},
    )
    pdf = CustomPdf(s3_key=key, sha256=sha, size=len(data), uploaded_at=now)
    keep_check = template.check is not None and template.check.pdf_sha256 == sha
    updated = stores.templates.set_template_pdf(org_id, template_id, pdf, now, keep_check=keep_check)
    logger.info(
        "template pdf uploaded",
        extra={"org_id": org_id, "template_id": template_id, "size": len(data), "check_kept": keep_check},
    )
    return TemplatePdfView(
        template_id=template_id,
        layout=updated.layout,
        custom_pdf=pdf,
        page_count=parsed.page_count,
        check=updated.check,
        next_step="run the compatibility check: POST .../check" if not keep_check else "the stored check still applies",
    )


# ------------------------------------------------------------------------------------------------ check


class CheckIn(Strict):
    """Body of `POST .../check` (optional)."""

    provider: ProviderName | None = Field(
        default=None,
        description="Check for this provider's window (before connecting); default: the connected provider, then "
        "the org's window standard, then DIN 5008 B",
    )
    dpi: int = Field(default=PREVIEW_DPI, ge=18, le=300, description="Resolution of the PNG preview")


class CheckView(BaseModel):
    """The compatibility check: ok, problems (code, message, fix), the detected address box and a preview URL."""

    template_id: str
    ok: bool
    zone_id: str
    provider: ProviderName | None
    problems: list[dict[str, Any]]
    address_box_mm: dict[str, float] | None
    page_count: int
    page_size_mm: tuple[float, float]
    file_size: int
    fonts: list[str]
    pdf_sha256: str
    checked_at: str
    preview_url: str | None
    preview_expires_in: int | None
    blocks_connect: list[BannerEntry] | None = Field(
        description="What still blocks connecting to `provider` (empty: nothing); null when no provider is known"
    )


def preview_key(org_id: str, template_id: str, sha256: str) -> str:
    """`previews/{org_id}/{template_id}/{sha256}.png` (the bucket expires `previews/` after 30 days)."""
    return f"previews/{org_id}/{template_id}/{sha256}.png"


def check_body(body: str | None, is_base64: bool) -> CheckIn:
    """The optional JSON body of `POST .../check` (empty means defaults)."""
    return _validated(CheckIn, _json_object(_raw_bytes(body, is_base64)))


def check_template(
    stores: Stores, store: Documents, org_id: str, template_id: str, body: CheckIn, now: str
) -> CheckView:
    """Check the template's custom PDF against its window standard, store the result and a page-1 PNG preview.

    The stored `TemplateCheck` (with `pdf_sha256` and `zone_id`) is what connect gating reads: it counts only for
    the same bytes and the same window. Raises `NotFound` (template), `Conflict` (no PDF uploaded) and the
    check's own 4xx errors for files that cannot be evaluated.
    """
    template = stores.templates.get_template(org_id, template_id)
    pdf = template.custom_pdf
    if pdf is None:
        raise Conflict(
            f"template '{template_id}' has no custom PDF to check",
            code="no_custom_pdf",
            fix="upload the template PDF first (POST .../templates/{template_id}/pdf)",
        )
    integration = stores.integrations.get_integration(org_id)
    zone = zone_for_template(stores.orgs.get_org(org_id), integration, template, body.provider)
    data = store.get(pdf.s3_key)
    result = check_pdf(data, zone, PdfLimits(max_bytes=MAX_TEMPLATE_BYTES))
    # pypdfium2 (~60 ms to import) only for the preview: the renderers that import this module never need it.
    from postal.documents.preview import render_preview_png

    stored_preview: str | None = None
    try:
        png = render_preview_png(data, zone, result, dpi=body.dpi)
    except DomainError as exc:
        # The verdict matters more than the picture: keep the check, say there is no preview.
        logger.warning("preview not rendered", extra={"org_id": org_id, "template_id": template_id, "code": exc.code})
    else:
        stored_preview = preview_key(org_id, template_id, pdf.sha256)
        store.put_png(stored_preview, png, {"org-id": org_id, "template-id": template_id, "zone-id": zone.id})

    check = TemplateCheck(
        ok=result.ok,
        checked_at=now,
        zone_id=zone.id,
        pdf_sha256=pdf.sha256,
        problems=[p.model_dump(mode="json") for p in result.problems],
        address_box_mm=result.address_box_mm.model_dump() if result.address_box_mm else None,
        preview_key=stored_preview,
    )
    updated = stores.templates.set_template_check(org_id, template_id, check)
    provider = body.provider or (integration.provider if integration.status == IntegrationStatus.CONNECTED else None)
    logger.info(
        "template checked",
        extra={
            "org_id": org_id,
            "template_id": template_id,
            "zone_id": zone.id,
            "ok": result.ok,
            "problems": len(result.problems),
        },
    )
    return _check_view(updated, check, result, provider, store, stored_preview)


def _check_view(
    template: Template,
    check: TemplateCheck,
    result: CheckResult,
    provider: ProviderName | None,
    store: Documents,
    stored_preview: str | None,
) -> CheckView:
    return CheckView(
        template_id=template.template_id,
        ok=check.ok,
        zone_id=check.zone_id,
        provider=provider,
        problems=check.problems,
        address_box_mm=check.address_box_mm,
        page_count=result.page_count,
        page_size_mm=result.page_size_mm,
        file_size=result.file_size,
        fonts=result.fonts,
        pdf_sha256=check.pdf_sha256,
        checked_at=check.checked_at,
        preview_url=store.download_url(stored_preview) if stored_preview else None,
        preview_expires_in=store.presign_seconds if stored_preview else None,
        blocks_connect=template_problems(template, provider) if provider is not None else None,
    )

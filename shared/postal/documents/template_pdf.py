"""The template-PDF service: custom template PDF uploads, the compatibility check and its preview.

Custom template PDFs can arrive two ways (`POST .../templates/{id}/pdf`):
- in the body, `Content-Type: application/pdf` (API Gateway passes it base64-encoded, `isBase64Encoded`), up to
  `MAX_TEMPLATE_BYTES`;
- through S3: `{"upload": true}` returns a presigned PUT URL under `uploads/` (expires with the bucket's 2-day
  lifecycle rule); after the PUT, `{"s3_key": "<the key>"}` registers the file. Same checks, same result.

Either way the PDF is stored at `orgs/{org_id}/templates/{template_id}/{sha256}.pdf` and becomes the template's
`custom_pdf`; a check made for other bytes stops counting (`POST .../check` must run again).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field, StringConstraints

from postal.api.bodies import json_object, media_type, raw_bytes, validated
from postal.clock import new_id
from postal.documents.check import CheckResult, PdfLimits, check_pdf
from postal.documents.rendering import zone_for_template
from postal.documents.zones import Zone
from postal.errors import (
    Conflict,
    DomainError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from postal.integration import BannerEntry, template_problems
from postal.models import (
    CustomPdf,
    IntegrationStatus,
    Layout,
    ProviderName,
    Strict,
    Template,
    TemplateCheck,
)
from postal.ports import Documents, Stores

logger = Logger(child=True)

# The largest template PDF we accept, in the body or through S3: the provider's limit (Pingen: 8 MB), which also
# fits API Gateway's 10 MB payload once base64-encoded.
MAX_TEMPLATE_BYTES = PdfLimits().max_bytes
PREVIEW_DPI = 72


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


def _body_bytes(body: str | None, is_base64: bool) -> bytes:
    return raw_bytes(body, is_base64, max_bytes=MAX_TEMPLATE_BYTES, too_large=_too_large)


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
    media = media_type(content_type)
    data = _body_bytes(body, is_base64)
    if media == "application/pdf":
        return upload_template_pdf(stores, store, org_id, template_id, data, now)
    if media in ("application/json", ""):
        request = validated(UploadIn, json_object(data))
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
    return validated(CheckIn, json_object(_body_bytes(body, is_base64)))


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
    stored_preview = _store_preview(store, org_id, template_id, pdf.sha256, data, zone, result, body.dpi)
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


def _store_preview(
    store: Documents,
    org_id: str,
    template_id: str,
    sha256: str,
    data: bytes,
    zone: Zone,
    result: CheckResult,
    dpi: int,
) -> str | None:
    """Render page 1 as a PNG with the window and the detected address drawn on it and store it; its key, or None
    when it could not be rendered (the check stands without it)."""
    # pypdfium2 (~60 ms to import) only for the preview: the renderers that import this module never need it.
    from postal.documents.preview import render_preview_png

    try:
        png = render_preview_png(data, zone, result, dpi=dpi)
    except DomainError as exc:
        # The verdict matters more than the picture: keep the check, say there is no preview.
        logger.warning("preview not rendered", extra={"org_id": org_id, "template_id": template_id, "code": exc.code})
        return None
    stored_preview = preview_key(org_id, template_id, sha256)
    store.put_png(stored_preview, png, {"org-id": org_id, "template-id": template_id, "zone-id": zone.id})
    return stored_preview


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

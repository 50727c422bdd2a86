"""Custom template PDFs: upload (in the body or through a presigned URL) and the compatibility check."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap
from postal.api.app import build_app, header, require_org
from postal.clock import now_iso
from postal.documents import template_pdf
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
app = build_app()


@app.post(
    "/v1/orgs/<org_id>/templates/<template_id>/pdf",
    summary="Upload a custom template PDF, or get an upload URL",
    description="Either the PDF itself (`Content-Type: application/pdf`, at most 8 MB), or JSON "
    '`{"upload": true}` for a presigned PUT URL, then `{"s3_key": "<key>"}` to register the uploaded file. '
    "A check made for other bytes stops counting. Errors: 413 too large, 415 not a PDF, 422 unreadable/encrypted.",
)
def upload_pdf(org_id: str, template_id: str) -> template_pdf.UploadTicket | template_pdf.TemplatePdfView:
    # The body is read raw (a PDF, or JSON): the content type decides what it is, not a pydantic model.
    event = app.current_event
    return template_pdf.handle_pdf_post(
        bootstrap.stores(),
        bootstrap.documents(),
        require_org(app, org_id),
        template_id,
        content_type=header(app, "Content-Type"),
        body=event.body,
        is_base64=bool(event.is_base64_encoded),
        now=now_iso(),
    )


@app.post(
    "/v1/orgs/<org_id>/templates/<template_id>/check",
    summary="Compatibility check of the custom template PDF",
    description='Optional JSON body `{"provider": "pingen", "dpi": 72}`. Checks against the window of that '
    "provider, else the connected one, else the org's window standard, else DIN 5008 B; stores the result (it is "
    "what connect gating reads) and returns problems with fixes, the detected address box and a PNG preview URL.",
)
def check(org_id: str, template_id: str) -> template_pdf.CheckView:
    # The body is optional (defaults for everything), which a required pydantic body parameter cannot express.
    event = app.current_event
    return template_pdf.check_template(
        bootstrap.stores(),
        bootstrap.documents(),
        require_org(app, org_id),
        template_id,
        template_pdf.check_body(event.body, bool(event.is_base64_encoded)),
        now_iso(),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

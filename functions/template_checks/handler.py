"""Custom template PDFs: upload (in the body or through a presigned URL) and the compatibility check."""


from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import deps
from postal.api.app import build_app, header, require_org
from postal.clock import now_iso
from postal.documents import service

logger = Logger()
tracer = Tracer()
app = build_app()


@app.post("/v1/orgs/<org_id>/templates/<template_id>/pdf")
@tracer.capture_method
def upload_pdf(org_id: str, template_id: str) -> service.UploadTicket | service.TemplatePdfView:
    # The body is read raw here (a PDF, or JSON): the content type decides what it is, not a pydantic model.
    event = app.current_event
    return service.handle_pdf_post(
        deps.records(),
        deps.documents(),
        require_org(app, org_id),
        template_id,
        content_type=header(app, "Content-Type"),
        body=event.body,
        is_base64=bool(event.is_base64_encoded),
        now=now_iso(),
    )


@app.post("/v1/orgs/<org_id>/templates/<template_id>/check")
@tracer.capture_method
def check(org_id: str, template_id: str) -> service.CheckView:
    # The body is optional (defaults for everything), which a required pydantic body parameter cannot express.
    event = app.current_event
    return service.check_template(
        deps.records(),
        deps.documents(),
        require_org(app, org_id),
        template_id,
        service.check_body(event.body, bool(event.is_base64_encoded)),
        now_iso(),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""Render a document (template + customer + invoices) to a PDF in S3 and hand back a short-lived download URL."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap
from postal.api.app import build_app, header, require_org
from postal.clock import now_iso
from postal.documents import rendering
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
app = build_app()


# Not wrapped by `tracer.capture_method`: the wrapper hides the annotations Powertools validates the body with.
@app.post(
    "/v1/orgs/<org_id>/documents",
    summary="Render a document to a PDF in S3",
    description="Renders the template for the customer (billing address at the window) and the invoices, stores "
    "the PDF (SSE) under orgs/{org_id}/documents/{yyyy}/{mm}/{dd}/{document_id}.pdf and returns a presigned "
    "download URL valid for `expires_in` seconds. The org's paper invoice fee is added to invoices for customers "
    "with paper_invoice. With an `Idempotency-Key`, a retry of the same request returns the same document.",
)
def render_document(org_id: str, body: rendering.DocumentIn) -> Response[rendering.StoredDocument]:
    document = rendering.create_document(
        bootstrap.stores(),
        bootstrap.documents(),
        bootstrap.idempotency_keys(),
        require_org(app, org_id),
        body,
        now_iso(),
        header(app, "Idempotency-Key"),
    )
    return Response(201, content_types.APPLICATION_JSON, document)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

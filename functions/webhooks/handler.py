"""Provider status callbacks (no authorizer): the signature over the raw body is the authentication."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, webhooks
from postal.api.app import build_app
from postal.clock import now_iso
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
app = build_app()


def _raw_body() -> bytes:
    """The exact bytes the provider signed (API Gateway base64-encodes binary bodies)."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


@app.post("/v1/webhooks/<provider>/<org_id>")
def provider_callback(provider: str, org_id: str) -> webhooks.WebhookResult:
    return webhooks.handle(
        bootstrap.stores(),
        bootstrap.letters(),
        bootstrap.providers(),
        bootstrap.events(),
        provider,
        org_id,
        dict(app.current_event.headers or {}),
        _raw_body(),
        now_iso(),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""The postal integration: status with banner, connect (preview, then confirm), disconnect impact, disconnect, jobs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, integration
from postal.api.app import build_app, require_org
from postal.clock import now_iso
from postal.config import get_config
from postal.models import Job
from postal.providers.connections import webhook_url
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
app = build_app()


@app.get("/v1/orgs/<org_id>/integrations/postal")
def get_integration(org_id: str) -> integration.IntegrationView:
    return integration.view(bootstrap.stores(), require_org(app, org_id))


@app.post("/v1/orgs/<org_id>/integrations/postal/connect")
def connect(org_id: str, body: integration.ConnectIn) -> integration.ConnectPreview | integration.ConnectedView:
    # Only connecting needs the provider adapters (and httpx): imported here, not at cold start.
    from postal.providers.registry import validate_credentials

    settings = get_config()
    org_id = require_org(app, org_id)
    return integration.connect(
        bootstrap.stores(),
        bootstrap.secret_store(),
        validate_credentials,
        org_id,
        body,
        now_iso(),
        stage=settings.stage,
        webhook_url=lambda provider: webhook_url(settings, provider, org_id),
    )


@app.get("/v1/orgs/<org_id>/integrations/postal/disconnect-impact")
def disconnect_impact(org_id: str) -> integration.Impact:
    return integration.impact(bootstrap.stores(), require_org(app, org_id))


@app.post("/v1/orgs/<org_id>/integrations/postal/disconnect")
def disconnect(org_id: str) -> Response[Job]:
    job = integration.disconnect(bootstrap.stores(), bootstrap.cascade_queue(), require_org(app, org_id), now_iso())
    logger.info("postal integration disconnected", extra={"org_id": org_id, "job_id": job.job_id})
    return Response(202, content_types.APPLICATION_JSON, job)


@app.get("/v1/orgs/<org_id>/jobs/<job_id>")
def get_job(org_id: str, job_id: str) -> Job:
    return integration.get_job(bootstrap.stores(), require_org(app, org_id), job_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

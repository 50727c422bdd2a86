"""Organisations and their API keys; the health check."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import deps, orgs
from postal.api.app import build_app, require_admin, require_org
from postal.clock import now_iso
from postal.models import Org, OrgIn

logger = Logger()
tracer = Tracer()
app = build_app()


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/orgs")
def create_org(body: OrgIn) -> Response[orgs.CreatedOrg]:
    require_admin(app)
    created = orgs.create_org(deps.records(), body, now_iso())
    return Response(201, content_types.APPLICATION_JSON, created)


@app.get("/v1/orgs/<org_id>")
def get_org(org_id: str) -> Org:
    return deps.records().get_org(require_org(app, org_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""Organisations (create, idempotently), their API keys (rotate); the health check."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, orgs
from postal.api.app import build_app, header, require_admin, require_current_key, require_org
from postal.clock import now_iso
from postal.models import Org, OrgIn, OrgPatch
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
app = build_app()


def _fresh_admin_key() -> str:
    return bootstrap.admin_key().current(fresh=True)


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/orgs")
def create_org(body: OrgIn) -> Response[orgs.CreatedOrg]:
    """Creates an org (admin key) and returns it with its API key, shown this once (only its hash is kept). With
    an `Idempotency-Key`, a retry never creates a second org: it answers 409 `org_already_created` with the org id
    (rotate the key if the first response was lost); the same key with another body is a 422."""
    require_admin(app)
    require_current_key(app, bootstrap.api_keys(), _fresh_admin_key)
    created = orgs.create_org(
        bootstrap.stores(),
        body,
        now_iso(),
        keys=bootstrap.idempotency_keys(),
        idempotency_key=header(app, "Idempotency-Key"),
    )
    return Response(201, content_types.APPLICATION_JSON, created)


@app.patch("/v1/orgs/<org_id>")
def update_org(org_id: str, body: OrgPatch) -> Org:
    """Changes the org's settings (name, branding, paper invoice fee, window standard, returned-mail fallback):
    the fields given replace the stored ones, `null` removes an optional one, the others stay."""
    return orgs.update_org(bootstrap.stores(), require_org(app, org_id), body, now_iso())


@app.post("/v1/orgs/<org_id>/api-key")
def rotate_api_key(org_id: str) -> orgs.RotatedKey:
    """Replaces the org's API key (admin key, or the org's own key) and returns the new one, shown this once. The
    old key is revoked at once: this route and org creation check the presented key against the store on every
    call; every other route refuses it once the gateway's authorizer cache (30 s) expires."""
    org_id = require_org(app, org_id)
    require_current_key(app, bootstrap.api_keys(), _fresh_admin_key)
    return orgs.rotate_api_key(bootstrap.stores(), org_id, now_iso())


@app.get("/v1/orgs/<org_id>")
def get_org(org_id: str) -> Org:
    return orgs.get_org(bootstrap.stores(), require_org(app, org_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

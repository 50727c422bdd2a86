"""Channel resolution: which channel the next communication to a customer with a template uses, and why."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap
from postal.api.app import build_app, require_org
from postal.channels import Resolution, channel_for
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
app = build_app()


@app.get("/v1/orgs/<org_id>/customers/<customer_id>/channel")
def resolve(org_id: str, customer_id: str, template_id: Annotated[str, Query(min_length=1)]) -> Resolution:
    return channel_for(bootstrap.stores(), require_org(app, org_id), customer_id, template_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

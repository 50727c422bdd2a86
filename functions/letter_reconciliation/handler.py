"""Hourly `letter-reconciliation`: ask the provider about letters stuck in a non-final status (lost webhooks)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, reconcile
from postal.clock import now_iso
from postal.config import get_config
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    request = reconcile.ReconcileInput.model_validate(event)
    settings = get_config()
    orgs = reconcile.run(
        bootstrap.stores(),
        bootstrap.letters(),
        bootstrap.providers(),
        bootstrap.events(),
        request,
        now_iso(),
        hours=reconcile.after_hours(settings.reconcile_after_hours),
        batch=settings.reconcile_batch,
    )
    for org in orgs:
        logger.info("letters reconciled", extra=org.model_dump())
    metrics.add_metric("LettersReconciled", MetricUnit.Count, sum(o.changed for o in orgs))
    metrics.add_metric("LettersUnreadable", MetricUnit.Count, sum(o.failed for o in orgs))
    return {"job": request.job, "orgs": [o.model_dump() for o in orgs]}

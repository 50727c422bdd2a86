"""Nightly schedules: `nightly-collection` (due steps, exactly once) and `nightly-reconciliation` (retries)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, collection
from postal.clock import now_iso
from postal.letters import DocumentRef, LetterIn, create
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
metrics = Metrics()


def send_letter(org_id: str, template_id: str, customer_id: str, invoice_id: str, idempotency_key: str) -> str:
    """A collection letter goes through exactly the same path as `POST /letters` (checks, S3, dispatch queue)."""
    body = LetterIn(
        document=DocumentRef(template_id=template_id, customer_id=customer_id, invoice_ids=[invoice_id]), send=True
    )
    letter = create.create_letter(
        bootstrap.letter_ports(),
        org_id,
        body,
        idempotency_key,
        now_iso(),
    )
    return letter.letter_id


def _fan_out(request: collection.NightlyInput) -> dict[str, Any]:
    """The schedule's run: one message per org on the collection queue (`nightly_pages` runs them)."""
    stores = bootstrap.stores()
    org_ids = [request.org_id] if request.org_id else list(stores.orgs.iter_org_ids())
    day = request.run_date or datetime.now(UTC).date()
    run_key, started = collection.start_run(stores, bootstrap.collection_queue(), org_ids, day, now_iso())
    logger.info("nightly run fanned out", extra={"run_key": run_key, "orgs": started})
    metrics.add_metric("OrgsStarted", MetricUnit.Count, started)
    return {"job": request.job, "run_date": day.isoformat(), "run_key": run_key, "orgs": started}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    request = collection.NightlyInput.model_validate(event)
    if request.fan_out and request.job == "nightly-collection":
        return _fan_out(request)
    summary = collection.run_nightly(
        bootstrap.stores(), bootstrap.events(), send_letter, request, datetime.now(UTC).date(), now_iso()
    )
    for org in summary.orgs:
        logger.info("nightly org done", extra=org.model_dump())
    metrics.add_metric("StepsRun", MetricUnit.Count, sum(o.ran for o in summary.orgs))
    metrics.add_metric("StepsFailed", MetricUnit.Count, sum(o.failed for o in summary.orgs))
    return summary.model_dump(mode="json")

"""Runs the disconnect cascade one page per SQS message; a page with more work re-enqueues the job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, cascade
from postal.clock import now_iso
from postal.config import get_config
from postal.integration import CascadeMessage
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    message = CascadeMessage.model_validate_json(record.body)
    settings = get_config()
    result = cascade.run_page(
        bootstrap.stores(),
        bootstrap.events(),
        message,
        settings.cascade_page_size,
        now_iso(),
        settle_seconds=settings.cascade_settle_seconds,
    )
    logger.info(
        "cascade page",
        extra={"org_id": message.org_id, "job_id": message.job_id, **result.model_dump(exclude={"next"})},
    )
    if result.next:
        bootstrap.cascade_queue().send(result.next, delay_seconds=result.delay_seconds)
    elif result.phase == "done":
        bootstrap.events().publish(
            "PostalIntegrationDisconnected", {"org_id": message.org_id, "job_id": message.job_id}
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )

"""Hands queued letters to the org's provider, exactly once (SQS batch, partial failures, DLQ)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap
from postal.clock import now_iso
from postal.dispatch import Dispatcher
from postal.letters import DispatchMessage
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    message = DispatchMessage.model_validate_json(record.body)
    dispatcher = Dispatcher(
        stores=bootstrap.stores(),
        providers=bootstrap.providers(),
        documents=bootstrap.documents(),
        events=bootstrap.events(),
        clock=now_iso,
    )
    outcome = dispatcher.dispatch(
        message,
        message_id=record.message_id,
        receive_count=int(record.attributes.approximate_receive_count or 1),
    )
    logger.info("dispatch", extra={"org_id": message.org_id, "letter_id": message.letter_id, "outcome": outcome})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )

"""Letters uploaded through their presigned PUT: the bucket's ObjectCreated events (through the UploadsQueue)
check each PDF and queue its letter, or fail it with the check's problems (SQS batch, partial failures, DLQ)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap
from postal.clock import now_iso
from postal.letters import uploads
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    """One S3 notification: every ObjectCreated record of it (S3's `s3:TestEvent` has none)."""
    notification = json.loads(record.body)
    for entry in notification.get("Records", []):
        if not str(entry.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        key = unquote_plus(entry["s3"]["object"]["key"])  # S3 URL-encodes keys in events
        size = int(entry["s3"]["object"].get("size", 0))
        status = uploads.letter_uploaded(
            bootstrap.letters(),
            bootstrap.documents(),
            bootstrap.dispatch_queue(),
            bootstrap.events(),
            key,
            size,
            now_iso(),
        )
        logger.info("upload", extra={"status": status.value if status else "ignored"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )

"""Runs the nightly fan-out one page of one org per SQS message; a page with more due invoices enqueues the next."""

from __future__ import annotations

import dataclasses
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, collection
from postal.clock import now_iso
from postal.config import get_config
from postal.letters import DocumentRef, LetterIn, create
from postal.ports import Stores
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def letter_sender(stores: Stores) -> collection.LetterSender:
    """A collection letter goes through exactly the same path as `POST /letters`, on the page's stores."""

    def send_letter(org_id: str, template_id: str, customer_id: str, invoice_id: str, idempotency_key: str) -> str:
        body = LetterIn(
            document=DocumentRef(template_id=template_id, customer_id=customer_id, invoice_ids=[invoice_id]),
            send=True,
        )
        # The page's stores: a letter created here is read back from what it wrote, not from the table.
        ports = dataclasses.replace(bootstrap.letter_ports(), stores=stores)
        letter = create.create_letter(ports, org_id, body, idempotency_key, now_iso())
        return letter.letter_id

    return send_letter


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    message = collection.CollectionPage.model_validate_json(record.body)
    result = collection.run_page(
        bootstrap.stores(),
        bootstrap.events(),
        letter_sender,
        message,
        get_config().collection_page_size,
        now_iso(),
    )
    logger.info(
        "nightly page",
        extra={"org_id": message.org_id, "page": message.page, **result.model_dump(exclude={"next"})},
    )
    if result.next:
        bootstrap.collection_queue().send(result.next)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )

"""An SQS event source mapping for the local stack: long-poll a queue, invoke the function with the batch, delete
what succeeded (partial batch failures as Lambda reads them)."""

from __future__ import annotations

import base64
import logging
import threading
import traceback
from typing import Any

import boto3

from local.cfn import REGION, SqsEvent
from local.lambda_runtime import FunctionError, LambdaRuntime

log = logging.getLogger("local")


class SqsPoller(threading.Thread):
    """One SQS event source mapping: long-poll, invoke, delete the messages that succeeded."""

    def __init__(
        self,
        runtime: LambdaRuntime,
        function: str,
        source: SqsEvent,
        queue_url: str,
        queue_arn: str,
        endpoint_url: str,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"sqs-{source.queue}", daemon=True)
        self.runtime, self.function, self.source = runtime, function, source
        self.queue_url, self.queue_arn, self.stop = queue_url, queue_arn, stop
        self.sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint_url)

    def run(self) -> None:
        """Poll until `stop` is set; errors are logged and retried, never fatal."""
        while not self.stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self.stop.is_set():
                    break
                log.error("%s poller:\n%s", self.source.queue, traceback.format_exc())
                self.stop.wait(1)

    def poll_once(self) -> None:
        """One ReceiveMessage (1 s long poll) and, if anything came, one invocation."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self.runtime.invoke(self.function, event)
        except FunctionError as exc:
            log.error("%s", exc.detail)
            # Nothing is deleted: the messages reappear after the visibility timeout and, after
            # maxReceiveCount receives, moto moves them to the dead-letter queue.
            log.warning("%s failed; %d message(s) will be retried", self.function, len(messages))
            return
        failed = self._failed_ids(result, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if failed:
            log.info(
                "%s: %d of %d message(s) reported as failed, will be retried", self.function, len(failed), len(messages)
            )

    def _failed_ids(self, result: Any, batch: set[str]) -> set[str]:
        """Message ids to keep; Lambda treats an invalid batchItemFailures answer as a whole-batch failure."""
        if not self.source.report_batch_item_failures or not result:
            return set()
        try:
            failed = {str(item["itemIdentifier"]) for item in result.get("batchItemFailures") or []}
        except (AttributeError, KeyError, TypeError):
            failed = batch
        if not failed <= batch:
            log.error("%s reported unknown itemIdentifier(s): the whole batch is retried", self.function)
            return batch
        return failed

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, value in message.get("MessageAttributes", {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])],
                "dataType": value.get("DataType"),
            }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

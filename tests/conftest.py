"""Fixtures: AWS under moto with the resources created from template.yaml, and helpers to call the API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from local.provision import Resources
from postal import bootstrap
from tests.apigw import FakeLambdaContext, Reply, call, handler, sqs_event
from tests.aws import provisioned


@dataclass
class Aws:
    resources: Resources

    @property
    def admin_key(self) -> str:
        return self.resources.admin_key

    def drain(self, logical_queue_id: str, module: str, max_rounds: int = 10_000, *, stop_after: int = 0) -> int:
        """Deliver every message of a queue to its function until the queue is empty; returns rounds run.
        `stop_after=n`: stop after n rounds even if messages are left (a test looking at a run half-way)."""
        sqs = boto3.client("sqs")
        url = self.resources.queue_url(logical_queue_id)
        rounds = 0
        while rounds < max_rounds:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return rounds
            rounds += 1
            event = sqs_event([m["Body"] for m in msgs])
            for record, msg in zip(event["Records"], msgs, strict=True):
                record["receiptHandle"] = msg["ReceiptHandle"]
                record["messageId"] = msg["MessageId"]
            try:
                result = handler(module)(event, FakeLambdaContext())
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except Exception:  # the invocation failed as a whole: SQS redelivers every message of the batch
                failed = {m["MessageId"] for m in msgs}
            for msg in msgs:
                if msg["MessageId"] in failed:
                    # As if the visibility timeout expired: the failed message is redelivered at once.
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            if rounds == stop_after:
                return rounds
        raise AssertionError(f"{logical_queue_id} did not drain in {max_rounds} rounds")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto with every table, bucket, queue, bus and secret of template.yaml, and the functions' environment."""
    with provisioned(monkeypatch) as resources:
        monkeypatch.setenv("CASCADE_PAGE_SIZE", os.environ.get("CASCADE_PAGE_SIZE", "50"))
        monkeypatch.setenv("CASCADE_SETTLE_SECONDS", "0")  # moto's GSIs are consistent; drain() sees no delay
        bootstrap.reset()
        yield Aws(resources)
        bootstrap.reset()


@dataclass
class Org:
    org_id: str
    key: str


class Api:
    """The HTTP API through the real handlers, with the right function per route."""

    def __init__(self, aws: Aws):
        self.aws = aws

    def __call__(self, module: str, method: str, path: str, **kwargs: Any) -> Reply:
        return call(module, method, path, **kwargs)

    def new_org(self, name: str = "Acme GmbH") -> Org:
        reply = call("orgs_api", "POST", "/v1/orgs", key=self.aws.admin_key, body={"name": name})
        assert reply.status == 201, reply.body
        data = reply.json
        return Org(org_id=data["org"]["org_id"], key=data["api_key"])

    def connect(self, org: Org, provider: str = "sandbox", credentials: dict[str, Any] | None = None) -> Reply:
        return call(
            "integration_api",
            "POST",
            f"/v1/orgs/{org.org_id}/integrations/postal/connect",
            key=org.key,
            body={"provider": provider, "credentials": credentials or {}, "confirm": True},
        )


@pytest.fixture
def api(aws: Aws) -> Api:
    return Api(aws)


def dumps(value: Any) -> str:
    return json.dumps(value)

"""Shared helpers for the letters integration tests: a running sandbox, customers, letters, SQS with receive counts."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.sandbox_server import SandboxServer
from postal.config import get_config
from postal.store.dynamo import serialize
from tests.apigw import FakeLambdaContext, Reply, handler
from tests.conftest import Api, Aws, Org
from tests.unit.documents import pdf_corpus

# The address `pdf_corpus.good_letter` prints in its window: letters with an uploaded PDF must go to it.
ADDRESS = {
    "name": "Erika Müller",
    "company": "Muster AG",
    "lines": ["Bahnhofstrasse 12"],
    "postal_code": "8001",
    "city": "Zürich",
    "country": "CH",
}
FR_ADDRESS = {
    "name": "Jean Dupont",
    "lines": ["12 rue de Rivoli"],
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}


@pytest.fixture
def sandbox(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A real sandbox provider on a free port, slow enough (x1) that letters stay `submitted` during a test."""
    server = SandboxServer(port=0, speed=1)
    monkeypatch.setenv("SANDBOX_URL", server.start())
    get_config.cache_clear()
    yield server
    server.stop()


def pdf_b64(data: bytes | None = None) -> str:
    return base64.b64encode(data if data is not None else pdf_corpus.good_letter_cached()).decode()


def put_customer(api: Api, org: Org, customer_id: str = "c1", address: dict[str, Any] | None = None) -> None:
    reply = api(
        "settings_api",
        "PUT",
        f"/v1/orgs/{org.org_id}/customers/{customer_id}",
        key=org.key,
        body={"name": "Erika Müller", "billing_address": address or ADDRESS},
    )
    assert reply.status in (200, 201), reply.body


def letter_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": {"customer_id": "c1"},
        "postage": "priority",
        "pdf_base64": pdf_b64(),
        "send": True,
    }
    body.update(overrides)
    return body


def send(api: Api, org: Org, key: str = "k1", **overrides: Any) -> Reply:
    return api(
        "letters_api",
        "POST",
        f"/v1/orgs/{org.org_id}/letters",
        key=org.key,
        body=letter_body(**overrides),
        headers={"Idempotency-Key": key},
    )


def get_letter(api: Api, org: Org, letter_id: str) -> dict[str, Any]:
    reply = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters/{letter_id}", key=org.key)
    assert reply.status == 200, reply.body
    data: dict[str, Any] = reply.json
    return data


def connected_org(api: Api, provider: str = "sandbox", credentials: dict[str, Any] | None = None) -> Org:
    org = api.new_org()
    reply = api.connect(org, provider, credentials)
    assert reply.status == 200, reply.body
    put_customer(api, org)
    return org


def deliver(aws: Aws, logical_queue_id: str = "DispatchQueue", module: str = "dispatch", max_rounds: int = 50) -> int:
    """Like `Aws.drain`, but with the real ApproximateReceiveCount (moto applies the redrive policy itself)."""
    sqs = boto3.client("sqs")
    url = aws.resources.queue_url(logical_queue_id)
    for rounds in range(max_rounds):
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not msgs:
            return rounds
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                    "awsRegion": "us-east-1",
                }
                for m in msgs
            ]
        }
        try:
            result = handler(module)(event, FakeLambdaContext())
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            failed = {m["MessageId"] for m in msgs}
        for m in msgs:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    raise AssertionError(f"{logical_queue_id} did not drain in {max_rounds} rounds")


def queue_depth(aws: Aws, logical_queue_id: str) -> int:
    sqs = boto3.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=aws.resources.queue_url(logical_queue_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def stored_letter(org_id: str, letter_id: str, status: str, **extra: Any) -> None:
    """A whole letter in `status`, written as the letters pipeline writes it (its GSI keys included), with extra
    attributes (e.g. a dispatch claim)."""
    from postal import bootstrap
    from postal.letters import Letter

    letter = Letter.model_validate(
        {
            "letter_id": letter_id,
            "org_id": org_id,
            "status": status,
            "recipient": {"name": "A", "lines": ["B 1"], "postal_code": "8001", "city": "Z", "country": "CH"},
            "postage": "economy",
            "pdf_key": f"letters/{org_id}/{letter_id}.pdf",
            "page_count": 1,
            "sha256": "0" * 64,
            "provider": "sandbox",
            "created_at": "2026-11-23T00:00:00Z",
            "updated_at": "2026-11-23T00:00:00Z",
        }
    )
    letters = bootstrap.stores().letters
    item = {**letters.letter_item(letter), **extra}
    boto3.client("dynamodb").put_item(TableName=get_config().table_name, Item=serialize(item))

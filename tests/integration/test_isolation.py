"""Tenant isolation over every operation of docs/openapi.json: with another org's key, no key, a revoked key, or
a revoked key the gateway still caches, no operation reaches the victim org, and nothing changes anywhere (every
item of both tables, every object of the documents bucket, every queue)."""

from __future__ import annotations

from typing import Any

import boto3

from postal.store.dynamo import deserialize
from tests.apigw import authorize
from tests.conftest import Api, Aws
from tests.integration.letters_support import connected_org, put_customer
from tests.routes import openapi, operations

IDS = {"provider": "sandbox", "customer_id": "c1", "template_id": "t1", "invoice_id": "inv-1"}


def everything(aws: Aws) -> dict[str, Any]:
    """The whole state: both tables, the bucket's objects and every queue's message count."""
    dynamodb, s3, sqs = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("sqs")
    state: dict[str, Any] = {}
    for name in dynamodb.list_tables()["TableNames"]:
        items = dynamodb.scan(TableName=name)["Items"]
        state[name] = sorted(repr(sorted(deserialize(i).items())) for i in items)
    for bucket in s3.list_buckets()["Buckets"]:
        objects = s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
        state[bucket["Name"]] = sorted((o["Key"], o["ETag"]) for o in objects)
    for url in sqs.list_queues().get("QueueUrls", []):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        state[url] = attrs["Attributes"]["ApproximateNumberOfMessages"]
    return state


def test_no_operation_reaches_another_org_or_changes_anything(api: Api, aws: Aws) -> None:
    victim = connected_org(api)
    put_customer(api, victim, "c1")
    assert (
        api(
            "settings_api", "PUT", f"/v1/orgs/{victim.org_id}/templates/t1", key=victim.key, body={"kind": "letter"}
        ).status
        == 200
    )
    invoice = {
        "customer_id": "c1",
        "number": "1",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "open_amount": "10",
    }
    assert (
        api("settings_api", "PUT", f"/v1/orgs/{victim.org_id}/invoices/inv-1", key=victim.key, body=invoice).status
        == 200
    )
    attacker = api.new_org("Attacker")
    revoked = api.new_org("Revoked")
    cached = authorize(revoked.key)  # the gateway cached it before it was rotated away
    assert cached is not None
    assert api("orgs_api", "POST", f"/v1/orgs/{revoked.org_id}/api-key", key=revoked.key).status == 200
    before = everything(aws)

    walked, calls = 0, 0
    for op in operations():
        if not op.authorized:
            continue  # health is public; webhooks authenticate by signature (test_letters_webhooks.py)
        url = op.url(org_id=victim.org_id, **IDS)
        body = {} if op.has_body else None
        admin_route = op.path == "/v1/orgs"
        attempts = [
            (attacker.key, None, 403 if admin_route else 404),
            (None, None, 401),
            ("pc_live_" + "x" * 43, None, 401),
            (revoked.key, None, 401),
            (revoked.key, cached, 403 if admin_route else 404),
        ]
        for key, cached_auth, expected in attempts:
            reply = api(op.module, op.method, url, key=key, body=body, cached_auth=cached_auth)
            assert reply.status == expected, (op.method, op.path, key is not None, cached_auth is not None, reply.body)
            assert "error" in reply.json
            calls += 1
        walked += 1

    assert everything(aws) == before
    documented = {(m.upper(), p) for p, ops in openapi()["paths"].items() for m in ops}
    authorised = {(o.method, o.path) for o in operations() if o.authorized}
    assert walked == len(authorised) == len(documented) - 2  # every operation but health and the webhook
    print(f"isolation: {walked} operations, {calls} calls, nothing changed")

"""Orgs, templates, customers, steps, channel resolution and the postal integration lifecycle, end to end
through the real handlers under moto (resources created from template.yaml)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from postal import bootstrap
from postal.config import get_config
from postal.store import keys
from postal.store.dynamo import serialize
from tests.conftest import Api, Aws, Org
from tests.integration.letters_support import stored_letter

ADDRESS = {
    "name": "Jana Müller",
    "lines": ["Unter den Linden 1"],
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}


def put_template(api: Api, org: Org, template_id: str, **fields: Any) -> Any:
    body = {"kind": "reminder", **fields}
    return api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/templates/{template_id}", key=org.key, body=body)


def put_customer(api: Api, org: Org, customer_id: str, **fields: Any) -> Any:
    body = {"name": "Jana Müller", "billing_address": ADDRESS, **fields}
    return api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/customers/{customer_id}", key=org.key, body=body)


def put_steps(api: Api, org: Org, steps: list[dict[str, Any]]) -> Any:
    return api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/collection-steps", key=org.key, body={"steps": steps})


def channel(api: Api, org: Org, customer_id: str, template_id: str) -> Any:
    return api(
        "channels_api",
        "GET",
        f"/v1/orgs/{org.org_id}/customers/{customer_id}/channel",
        key=org.key,
        query={"template_id": template_id},
    )


def disconnect_and_drain(api: Api, aws: Aws, org: Org) -> dict[str, Any]:
    reply = api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
    assert reply.status == 202, reply.body
    job_id = reply.json["job_id"]
    aws.drain("CascadeQueue", "disconnect_cascade")
    job = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/{job_id}", key=org.key)
    assert job.status == 200
    return dict(job.json)


def insert_letter(org: Org, letter_id: str, status: str) -> None:
    """A letter row as the letters pipeline writes it (status partition in GSI2)."""
    stored_letter(org.org_id, letter_id, status)


def letter_row(org: Org, letter_id: str) -> dict[str, Any]:
    raw = boto3.client("dynamodb").get_item(
        TableName=bootstrap.stores().orgs.table,
        Key=serialize({"PK": keys.org_pk(org.org_id), "SK": keys.letter_sk(letter_id)}),
    )["Item"]
    return {k: next(iter(v.values())) for k, v in raw.items()}


def test_health_needs_no_key(api: Api) -> None:
    reply = api("orgs_api", "GET", "/v1/health", auth=False)
    assert (reply.status, reply.json) == (200, {"status": "ok"})


def test_create_org_needs_the_admin_key(api: Api) -> None:
    org = api.new_org()
    reply = api("orgs_api", "POST", "/v1/orgs", key=org.key, body={"name": "Other"})
    assert reply.status == 403
    assert reply.json["error"]["code"] == "admin_only"
    assert api("orgs_api", "POST", "/v1/orgs", key="wrong", body={"name": "x"}).status == 401


def test_an_org_key_only_reaches_its_own_org(api: Api) -> None:
    a, b = api.new_org("A"), api.new_org("B")
    assert api("orgs_api", "GET", f"/v1/orgs/{a.org_id}", key=a.key).status == 200
    for module, method, path in [
        ("orgs_api", "GET", f"/v1/orgs/{a.org_id}"),
        ("settings_api", "GET", f"/v1/orgs/{a.org_id}/templates"),
        ("integration_api", "GET", f"/v1/orgs/{a.org_id}/integrations/postal"),
    ]:
        reply = api(module, method, path, key=b.key)
        assert reply.status == 404, (path, reply.body)
        assert reply.json["error"]["code"] == "not_found"


def test_unknown_fields_and_bad_enums_are_422_naming_them(api: Api) -> None:
    org = api.new_org()
    reply = put_template(api, org, "reminder", default_channel="fax", colour="red")
    assert reply.status == 422
    details = {d["field"]: d["message"] for d in reply.json["error"]["details"]}
    assert "'email', 'post' or 'sms'" in details["default_channel"]
    assert "colour" in details


def test_an_invalid_address_of_an_email_customer_is_stored_and_reported_by_channel_resolution(api: Api) -> None:
    org = api.new_org()
    assert put_template(api, org, "reminder").status == 200
    reply = put_customer(api, org, "c1", billing_address={**ADDRESS, "postal_code": "1"}, email="j@example.com")
    assert reply.status == 200, reply.body  # partial customer data from the AR platform syncs
    resolved = channel(api, org, "c1", "reminder").json
    assert (resolved["channel"], resolved["deliverable"]) == ("email", True)
    assert [p["field"] for p in resolved["address_problems"]] == ["postal_code"]


def test_invalid_address_of_a_post_customer_is_422_naming_the_fields(api: Api) -> None:
    org = api.new_org()
    assert api.connect(org).status == 200
    reply = put_customer(api, org, "c1", billing_address={**ADDRESS, "postal_code": "1"}, preference="post")
    assert reply.status == 422
    assert reply.json["error"]["code"] == "invalid_address"
    assert reply.json["error"]["details"] == [{"field": "billing_address.postal_code", "problem": "invalid"}]


def test_post_is_refused_everywhere_while_disconnected(api: Api) -> None:
    org = api.new_org()
    assert put_template(api, org, "reminder").status == 200
    for reply in [
        put_template(api, org, "reminder", default_channel="post"),
        put_customer(api, org, "c1", preference="post"),
        put_steps(api, org, [{"day_offset": 7, "template_id": "reminder", "action": "post"}]),
    ]:
        assert reply.status == 409, reply.body
        assert reply.json["error"]["code"] == "integration_not_connected"


def test_connect_preview_changes_nothing_then_confirm_activates(api: Api) -> None:
    org = api.new_org()
    path = f"/v1/orgs/{org.org_id}/integrations/postal/connect"
    preview = api("integration_api", "POST", path, key=org.key, body={"provider": "sandbox", "confirm": False})
    assert preview.status == 200
    assert preview.json["compatible"] is True
    assert preview.json["changes"]
    status = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/integrations/postal", key=org.key).json
    assert status["status"] == "disconnected"
    reply = api.connect(org)
    assert reply.status == 200, reply.body
    assert reply.json["status"] == "connected"
    assert reply.json["provider"] == "sandbox"
    again = api.connect(org)
    assert (again.status, again.json["error"]["code"]) == (409, "already_connected")


def test_connect_is_refused_with_a_banner_for_blocking_templates(api: Api) -> None:
    org = api.new_org()
    put_template(api, org, "invoice", kind="invoice", layout="custom")
    put_template(
        api,
        org,
        "reminder",
        address_position="custom",
        custom_address_box={"x_mm": 22, "y_mm": 38, "width_mm": 85, "height_mm": 25},
    )
    reply = api.connect(org)
    assert reply.status == 409
    error = reply.json["error"]
    assert error["code"] == "templates_block_connect"
    banner = {b["template_id"]: b for b in error["details"]["banner"]}
    assert banner["invoice"]["code"] == "custom_template_missing_pdf"
    assert banner["reminder"]["code"] == "custom_address_position"
    assert "starts at 38 mm from the top" in banner["reminder"]["message"]
    assert "60-85.5 mm" in banner["reminder"]["message"]
    assert banner["reminder"]["fix"]
    status = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/integrations/postal", key=org.key).json
    assert status["status"] == "disconnected"
    assert {b["template_id"] for b in status["banner"]} == {"invoice", "reminder"}


def test_credentials_go_to_secrets_manager_never_to_dynamodb_or_a_get(api: Api) -> None:
    org = api.new_org()
    creds = {"api_key": "test_sk_supersecret_value_123456"}
    reply = api.connect(org, provider="postgrid", credentials=creds)
    assert reply.status == 200, reply.body
    assert "supersecret" not in json.dumps(reply.json)
    got = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/integrations/postal", key=org.key)
    assert "supersecret" not in got.body.decode()
    items = boto3.client("dynamodb").query(
        TableName=bootstrap.stores().orgs.table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.org_pk(org.org_id)}},
    )["Items"]
    assert "supersecret" not in json.dumps(items)
    secret_ref = bootstrap.stores().integrations.secret_ref(org.org_id)
    assert secret_ref is not None
    secret_id = secret_ref.partition("#")[0]  # the reference is "<ARN>#<VersionId>" (postal.store.secrets)
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    assert stored["credentials"]["api_key"] == creds["api_key"]


def test_bad_credentials_are_422(api: Api) -> None:
    org = api.new_org()
    reply = api.connect(org, provider="pingen", credentials={"client_id": "x"})
    assert reply.status == 422, reply.body


def test_channel_resolution_over_http_changes_immediately(api: Api) -> None:
    org = api.new_org()
    api.connect(org)
    put_template(api, org, "reminder", default_channel="email")
    put_template(api, org, "plan", kind="payment_plan_reminder", default_channel="post")
    put_customer(api, org, "c1")
    assert channel(api, org, "c1", "reminder").json == {
        "channel": "email",
        "reason": "template_default",
        "deliverable": True,
        "problem": None,
        "address_problems": [],
    }
    assert channel(api, org, "c1", "plan").json["channel"] == "post"
    put_customer(api, org, "c1", preference="post")
    got = channel(api, org, "c1", "reminder").json
    assert (got["channel"], got["reason"]) == ("post", "customer_preference")
    put_customer(api, org, "c2", preference="post", billing_address=None)
    got = channel(api, org, "c2", "reminder").json
    assert (got["channel"], got["deliverable"], got["problem"]) == ("post", False, "missing_address_fields")
    assert channel(api, org, "nobody", "reminder").status == 404


def _configure_post_everywhere(api: Api, org: Org, customers: int) -> None:
    assert api.connect(org).status == 200
    assert put_template(api, org, "reminder", default_channel="post").status == 200
    assert put_template(api, org, "invoice", kind="invoice", default_channel="email").status == 200
    for i in range(customers):
        assert put_customer(api, org, f"c{i}", preference="post").status == 200
    assert put_customer(api, org, "email-person", preference="email").status == 200
    steps = [
        {"day_offset": 0, "template_id": "invoice", "action": "email"},
        {"day_offset": 7, "template_id": "reminder", "action": "post"},
        {"day_offset": 14, "template_id": "reminder", "action": "letter_task"},
        {"day_offset": 21, "template_id": "reminder", "action": "post"},
    ]
    assert put_steps(api, org, steps).status == 200


def test_disconnect_impact_then_cascade_reverts_everything_and_keeps_history(api: Api, aws: Aws) -> None:
    org = api.new_org()
    _configure_post_everywhere(api, org, customers=120)
    insert_letter(org, "l-queued", "queued")
    insert_letter(org, "l-created", "created")
    insert_letter(org, "l-sent", "sent")

    impact = api(
        "integration_api", "GET", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect-impact", key=org.key
    ).json
    assert impact == {
        "customers_with_post": 120,
        "customers_with_paper_invoice": 0,
        "customers_to_reset": 120,
        "templates_with_post": ["reminder"],
        "steps_with_post": [1, 3],
        "letters_in_flight": 2,
    }

    job = disconnect_and_drain(api, aws, org)
    assert job["status"] == "completed"
    assert job["started_at"] <= job["finished_at"] == job["updated_at"]
    assert job["total"] == 120 + 1 + 2 + 2
    assert job["done"] == job["total"]
    assert job["counts"] == {"templates": 1, "steps": 2, "customers": 120, "letters": 2}

    templates = {
        t["template_id"]: t for t in api("settings_api", "GET", f"/v1/orgs/{org.org_id}/templates", key=org.key).json
    }
    assert templates["reminder"]["default_channel"] == "email"
    for cid in ("c0", "c57", "c119"):
        customer = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/{cid}", key=org.key).json
        assert customer["preference"] is None
    assert (
        api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/email-person", key=org.key).json["preference"]
        == "email"
    )
    steps = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/collection-steps", key=org.key).json["steps"]
    assert [s["action"] for s in steps] == ["email", "manual_intervention", "letter_task", "manual_intervention"]
    assert letter_row(org, "l-queued")["status"] == "cancelled"
    assert letter_row(org, "l-queued")["status_reason"] == "integration_disconnected"
    assert letter_row(org, "l-created")["status"] == "cancelled"
    assert letter_row(org, "l-sent")["status"] == "sent"  # history is kept, mailed letters untouched
    assert channel(api, org, "c0", "reminder").json["channel"] == "email"


def test_reconnect_restores_nothing(api: Api, aws: Aws) -> None:
    org = api.new_org()
    _configure_post_everywhere(api, org, customers=3)
    disconnect_and_drain(api, aws, org)
    assert api.connect(org).status == 200
    templates = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/templates", key=org.key).json
    assert all(t["default_channel"] != "post" for t in templates)
    assert api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key).json["preference"] is None
    steps = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/collection-steps", key=org.key).json["steps"]
    assert "post" not in [s["action"] for s in steps]
    assert put_customer(api, org, "c1", preference="post").status == 200  # manual reconfiguration works


def test_reconnect_is_refused_while_the_cascade_runs(api: Api, aws: Aws) -> None:
    org = api.new_org()
    _configure_post_everywhere(api, org, customers=2)
    api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
    reply = api.connect(org)
    assert (reply.status, reply.json["error"]["code"]) == (409, "disconnect_in_progress")
    aws.drain("CascadeQueue", "disconnect_cascade")
    assert api.connect(org).status == 200


def test_cascade_interrupted_half_way_and_retried_gives_the_same_result(api: Api, aws: Aws, monkeypatch) -> None:
    monkeypatch.setenv("CASCADE_PAGE_SIZE", "200")  # one page of 130 customers: two transactions (99 + 31)
    bootstrap.reset()
    org = api.new_org()
    _configure_post_everywhere(api, org, customers=130)
    insert_letter(org, "l1", "queued")
    api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)

    # Crash the worker after the page's first transaction committed: the message is not deleted and comes back.
    from postal.store.table import Table

    real = Table._commit_counted
    calls: list[int] = []

    def crashing(self: Table, org_id: str, job_id: str, counter: str, changes: list, positions: list) -> list[int]:
        calls.append(len(changes))
        if counter == "customers" and len(calls) == 2:
            raise RuntimeError("worker died")
        return real(self, org_id, job_id, counter, changes, positions)

    monkeypatch.setattr(Table, "_commit_counted", crashing)
    aws.drain("CascadeQueue", "disconnect_cascade")
    assert calls[:3] == [99, 31, 31]  # the retried page finds only the 31 left
    monkeypatch.setattr(Table, "_commit_counted", real)
    aws.drain("CascadeQueue", "disconnect_cascade")  # duplicate delivery of the last message: a no-op
    job_id = bootstrap.stores().integrations.get_integration(org.org_id).last_job_id
    job = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/{job_id}", key=org.key).json
    assert job["status"] == "completed"
    assert job["counts"]["customers"] == 130
    assert job["done"] == job["total"] == 130 + 1 + 2 + 1
    assert bootstrap.stores().customers.count_post_customers(org.org_id) == 0
    assert letter_row(org, "l1")["status"] == "cancelled"


def test_disconnect_when_not_connected_is_409(api: Api) -> None:
    org = api.new_org()
    reply = api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
    assert (reply.status, reply.json["error"]["code"]) == (409, "integration_not_connected")


def test_sandbox_is_refused_in_prod_naming_the_real_providers(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    org = api.new_org()
    monkeypatch.setenv("STAGE", "prod")
    get_config.cache_clear()
    reply = api.connect(org, "sandbox")
    assert reply.status == 422, reply.body
    error = reply.json["error"]
    assert error["code"] == "provider_not_allowed"
    assert all(p in error["fix"] for p in ("pingen", "postgrid", "mysendingbox", "generic"))
    status = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/integrations/postal", key=org.key).json
    assert status["status"] == "disconnected"


def test_connect_answer_says_what_to_configure_for_webhooks(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://postal.example.com")
    get_config.cache_clear()
    msb_org, pg_org = api.new_org(), api.new_org()
    msb = api.connect(msb_org, "mysendingbox", {"api_key": "test_msb_1"}).json["webhook"]
    key = bootstrap.secret_store().get(str(bootstrap.stores().integrations.secret_ref(msb_org.org_id)))[
        "webhook_signing_key"
    ]
    assert msb["url"] == f"https://webhook:{key}@postal.example.com/v1/webhooks/mysendingbox/{msb_org.org_id}"
    assert msb["signing_secret"] is None
    pg = api.connect(pg_org, "postgrid", {"api_key": "test_sk_1"}).json["webhook"]
    assert pg["url"] == f"https://postal.example.com/v1/webhooks/postgrid/{pg_org.org_id}"
    assert (
        pg["signing_secret"]
        == bootstrap.secret_store().get(str(bootstrap.stores().integrations.secret_ref(pg_org.org_id)))[
            "webhook_signing_key"
        ]
    )
    # Shown once: the status view never repeats it.
    view = api("integration_api", "GET", f"/v1/orgs/{pg_org.org_id}/integrations/postal", key=pg_org.key)
    assert "webhook" not in view.json and pg["signing_secret"] not in view.body.decode()


def test_an_incomplete_address_of_an_email_customer_syncs_and_channel_resolution_reports_it(api: Api) -> None:
    org = api.new_org()
    assert api.connect(org).status == 200
    assert put_template(api, org, "reminder").status == 200
    partial = {"name": "Jana Müller", "city": "Berlin", "country": "DE"}  # no street, no postal code
    reply = put_customer(api, org, "c1", billing_address=partial, email="j@example.com")
    assert reply.status == 200, reply.body
    assert (
        api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key).json["billing_address"]["lines"]
        == []
    )
    resolved = channel(api, org, "c1", "reminder").json
    assert (resolved["channel"], resolved["deliverable"]) == ("email", True)
    assert {p["field"] for p in resolved["address_problems"]} >= {"lines", "postal_code"}
    # Choosing post needs the address complete: 422 naming what is missing.
    refused = put_customer(api, org, "c1", billing_address=partial, preference="post")
    assert (refused.status, refused.json["error"]["code"]) == (422, "invalid_address")
    assert "billing_address.lines" in {d["field"] for d in refused.json["error"]["details"]}
    # A post customer stored before with a partial address (e.g. a preference set by the AR platform later) is
    # reported by channel resolution, never silently emailed.
    post = put_template(api, org, "reminder", default_channel="post")
    assert post.status == 200, post.body
    resolved = channel(api, org, "c1", "reminder").json
    assert (resolved["channel"], resolved["deliverable"], resolved["problem"]) == ("post", False, "invalid_address")

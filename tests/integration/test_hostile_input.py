"""Bad input never gets a 5xx: whatever a careless client or an attacker sends, every route answers a 4xx in the
error shape `{"error": {"code", "message", "details"}}`, checked in the order authenticate, authorise the org,
validate the body."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import Api, Org
from tests.routes import Operation, operations

BODY_OPERATIONS = [o for o in operations() if o.has_body]

HOSTILE_BODIES: dict[str, tuple[str, bytes, int, str]] = {
    # name: (Content-Type, body, status, code)
    "latin-1 JSON": ("application/json", '{"name": "Müller"}'.encode("latin-1"), 400, "invalid_encoding"),
    "UTF-16 JSON": ("application/json", '{"name": "Müller"}'.encode("utf-16"), 400, "invalid_encoding"),
    "JSON with a UTF-16 charset": ("application/json; charset=utf-16", b'{"name": "x"}', 415, "unsupported_media_type"),
    "arrays nested 100,000 deep": ("application/json", b"[" * 100_000 + b"]" * 100_000, 400, "json_too_deep"),
    "objects nested 50,000 deep": ("application/json", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400, "json_too_deep"),
    "objects nested 40 deep": ("application/json", b'{"a":' * 40 + b"1" + b"}" * 40, 400, "json_too_deep"),
    "a lone surrogate": ("application/json", b'{"name": "\\ud800"}', 422, "validation_failed"),
    "a NUL character": ("application/json", b'{"name": "a\\u0000b"}', 422, "validation_failed"),
    "truncated JSON": ("application/json", b'{"name": ', 400, "invalid_json"),
    "multipart without a boundary": ("multipart/form-data", b"--x\r\n\r\n--x--", 400, "invalid_multipart"),
    "XML": ("application/xml", b"<org><name>x</name></org>", 415, "unsupported_media_type"),
}


def _org_and_key(api: Api, op: Operation) -> tuple[Org, str]:
    org = api.new_org()
    return org, api.aws.admin_key if op.path == "/v1/orgs" else org.key


def assert_our_error(reply_status: int, body: bytes) -> dict:
    data = json.loads(body)
    assert set(data) == {"error"}, body[:200]
    assert {"code", "message", "details"} <= set(data["error"]), body[:200]
    assert 400 <= reply_status < 500
    return data["error"]


@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_every_route_with_a_body_refuses_an_undecodable_one_with_a_4xx_in_our_shape(api: Api, name: str) -> None:
    content_type, raw, status, code = HOSTILE_BODIES[name]
    assert BODY_OPERATIONS
    for op in BODY_OPERATIONS:
        org, key = _org_and_key(api, op)
        reply = api(
            op.module,
            op.method,
            op.url(org_id=org.org_id, provider="sandbox"),
            key=key,
            raw_body=raw,
            headers={"Content-Type": content_type},
            auth=op.authorized,
        )
        error = assert_our_error(reply.status, reply.body)
        assert (reply.status, error["code"]) == (status, code), (op.method, op.path)


def test_the_webhook_route_refuses_deep_and_badly_encoded_bodies_before_any_signature_check(api: Api) -> None:
    org = api.new_org()
    for raw, code in ((b"[" * 100_000 + b"]" * 100_000, "json_too_deep"), (b"\xff\xfe{\x00}\x00", "invalid_encoding")):
        reply = api("webhooks", "POST", f"/v1/webhooks/sandbox/{org.org_id}", raw_body=raw, auth=False)
        assert (reply.status, assert_our_error(reply.status, reply.body)["code"]) == (400, code)


def test_another_orgs_path_answers_404_before_its_body_is_validated(api: Api) -> None:
    mine, other = api.new_org("Mine"), api.new_org("Other")
    for op in BODY_OPERATIONS:
        if op.path == "/v1/orgs" or not op.authorized:
            continue
        reply = api(op.module, op.method, op.url(org_id=other.org_id), key=mine.key, body={"no": ["such", "field"]})
        assert (reply.status, assert_our_error(reply.status, reply.body)["code"]) == (404, "not_found"), op.path
        reply = api(op.module, op.method, op.url(org_id=other.org_id), key=mine.key, raw_body=b"\xff")
        assert reply.status == 404, op.path


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"PK": "ORG#x", "SK": 5}').decode(),
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),
    ],
)
def test_a_tampered_letters_cursor_is_a_400(api: Api, cursor: str) -> None:
    org = api.new_org()
    reply = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key, query={"cursor": cursor})
    assert (reply.status, assert_our_error(reply.status, reply.body)["code"]) == (400, "invalid_cursor")


def test_a_cursor_naming_this_orgs_partition_with_foreign_key_attributes_is_a_400(api: Api) -> None:
    org = api.new_org()
    forged = json.dumps({"PK": f"ORG#{org.org_id}", "SK": "LETTER#x", "GSI9PK": "ORG#other"}).encode()
    query = {"cursor": base64.urlsafe_b64encode(forged).decode()}
    reply = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key, query=query)
    assert (reply.status, reply.json["error"]["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize("country", ["ZZ", "XK", "EU"])
def test_a_price_for_a_country_outside_iso_3166_is_a_422(api: Api, country: str) -> None:
    org = api.new_org()
    assert api.connect(org).status == 200
    query = {"country": country, "pages": "1"}
    reply = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/prices", key=org.key, query=query)
    assert (reply.status, reply.json["error"]["code"]) == (422, "validation_failed")
    assert reply.json["error"]["details"] == [{"field": "country", "problem": "unknown country"}]


@pytest.mark.parametrize(
    "invoice_change",
    [
        {"open_amount": "1E+1000"},
        {"open_amount": "1" * 42},
        {"open_amount": "-10"},
        {"lines": [{"description": "x", "unit_price": "1E+127"}]},
    ],
)
def test_an_invoice_with_an_unbounded_amount_is_a_422_and_nothing_is_stored(api: Api, invoice_change: dict) -> None:
    org = api.new_org()
    body = {"customer_id": "cus-1", "number": "1", "issue_date": "2026-11-01", "due_date": "2026-12-01"}
    path = f"/v1/orgs/{org.org_id}/invoices/inv-1"
    reply = api("settings_api", "PUT", path, key=org.key, body={**body, "open_amount": "10", **invoice_change})
    assert (reply.status, reply.json["error"]["code"]) == (422, "validation_failed")
    assert api("settings_api", "GET", path, key=org.key).status == 404


def test_a_fee_of_1e400_is_a_422(api: Api) -> None:
    org = api.new_org()
    fee = {"paper_invoice_fee": {"amount": "1E+400", "currency": "EUR"}}
    reply = api("orgs_api", "PATCH", f"/v1/orgs/{org.org_id}", key=org.key, body=fee)
    assert (reply.status, reply.json["error"]["code"]) == (422, "validation_failed")


def test_a_subnormal_custom_address_box_is_a_422(api: Api) -> None:
    org = api.new_org()
    box = {"x_mm": 5e-324, "y_mm": 40, "width_mm": 85, "height_mm": 25}
    body = {"kind": "reminder", "address_position": "custom", "custom_address_box": box}
    reply = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/templates/t1", key=org.key, body=body)
    assert (reply.status, reply.json["error"]["code"]) == (422, "validation_failed")

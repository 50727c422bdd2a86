"""Every webhook kind the strict fakes emit, through the real dispatch and webhook handlers under moto.

A letter is sent through the API, dispatched to the strict fake by the real dispatch function, moved along its
lifecycle at the fake (`/_advance`), and the fake's own webhook call (`/_emit`, signed or unsigned as the real one
is) is handed byte for byte to the real webhook `lambda_handler`. Pingen's fake has no `/_emit`: its webhooks are
built from the payload documented in pingen2-sdk-php's IncomingWebhookTest (providers.md §1.6).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest

from postal import bootstrap
from postal.config import get_config
from tests.apigw import Reply
from tests.conftest import Api, Aws, Org
from tests.contract.conftest import StartFake, StrictFake
from tests.integration.letters_support import ADDRESS, FR_ADDRESS, deliver, get_letter, put_customer

US_ADDRESS = {
    "name": "John Doe",
    "lines": ["1600 Pennsylvania Ave NW"],
    "postal_code": "20500",
    "city": "Washington",
    "region": "DC",
    "country": "US",
}
US_SENDER = {"name": "Acme Inc", "lines": ["1 Main St"], "postal_code": "10001", "city": "New York", "region": "NY"}


def _connect(api: Api, org: Org, provider: str, credentials: dict[str, Any]) -> dict[str, Any]:
    reply = api.connect(org, provider, credentials)
    assert reply.status == 200, reply.body
    webhook: dict[str, Any] = reply.json["webhook"]
    return webhook


def _point(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_config.cache_clear()


def _customer(api: Api, org: Org, address: dict[str, Any]) -> None:
    """Customer c1 at `address`, an invoice template and one invoice: letters are rendered by the service, so the
    printed address is the recipient's and fits the provider's window."""
    put_customer(api, org, address=address)
    for path, body in (
        ("templates/inv", {"kind": "invoice", "language": "en"}),
        (
            "invoices/i1",
            {
                "customer_id": "c1",
                "number": "INV-1",
                "issue_date": "2026-11-01",
                "due_date": "2026-11-30",
                "open_amount": "119.00",
                "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "19"}],
            },
        ),
    ):
        reply = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/{path}", key=org.key, body=body)
        assert reply.status == 200, reply.body


def _sent_letters(api: Api, aws: Aws, org: Org, count: int) -> list[tuple[str, str]]:
    """`count` letters sent and dispatched: (our letter id, the provider's id)."""
    ids = []
    document = {"template_id": "inv", "customer_id": "c1", "invoice_ids": ["i1"]}
    for n in range(count):
        reply = api(
            "letters_api",
            "POST",
            f"/v1/orgs/{org.org_id}/letters",
            key=org.key,
            body={"recipient": {"customer_id": "c1"}, "postage": "priority", "document": document, "send": True},
            headers={"Idempotency-Key": f"k{n}"},
        )
        assert reply.status == 202, reply.body
        ids.append(reply.json["letter_id"])
    deliver(aws)
    letters = [(lid, get_letter(api, org, lid)) for lid in ids]
    assert all(letter["provider_letter_id"] for _, letter in letters), [letter for _, letter in letters]
    return [(lid, letter["provider_letter_id"]) for lid, letter in letters]


def _hook(api: Api, provider: str, org: Org, headers: dict[str, str], body: bytes) -> Reply:
    return api("webhooks", "POST", f"/v1/webhooks/{provider}/{org.org_id}", raw_body=body, headers=headers, auth=False)


def _tasks(api: Api, org: Org) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]
    return items


# ------------------------------------------------------------------------------------------------- MySendingBox
MSB_EVENTS = {
    "letter.created": "submitted",
    "letter.accepted": "accepted",
    "letter.filing_proof": "sent",
    "letter.sent": "sent",
    "letter.in_transit": "sent",
    "letter.waiting_to_be_withdrawn": "sent",
    "letter.distributed": "delivered",
    "letter.delivery_proof": "delivered",
    "letter.returned_to_sender": "undeliverable",
    "letter.return_to_sender_proof": "undeliverable",
    "letter.wrong_address": "undeliverable",
    "letter.lost": "undeliverable",
    "letter.error": "failed",
    "letter.canceled": "cancelled",
}


@pytest.fixture
def msb(api: Api, strict: StartFake, monkeypatch: pytest.MonkeyPatch) -> tuple[Org, StrictFake, dict[str, str]]:
    fake = strict("mysendingbox", "--api-key", "test_msb_strict")
    _point(monkeypatch, MYSENDINGBOX_API_URL=fake.url, PUBLIC_BASE_URL="https://postal.example.com")
    org = api.new_org()
    webhook = _connect(api, org, "mysendingbox", {"api_key": "test_msb_strict"})
    _customer(api, org, FR_ADDRESS)
    # MySendingBox calls the configured URL; its user:password part becomes this Basic auth header.
    credentials = webhook["url"].split("://", 1)[1].split("@", 1)[0]
    assert webhook["url"].endswith(f"@postal.example.com/v1/webhooks/mysendingbox/{org.org_id}")
    return org, fake, {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_every_mysendingbox_webhook_kind_moves_its_letter(
    api: Api, aws: Aws, msb: tuple[Org, StrictFake, dict[str, str]]
) -> None:
    org, fake, auth = msb
    letters = _sent_letters(api, aws, org, len(MSB_EVENTS))
    for (letter_id, pid), (event, expected) in zip(letters, MSB_EVENTS.items(), strict=True):
        headers, body = fake.emit(pid, {"event": event})
        reply = _hook(api, "mysendingbox", org, {**headers, **auth}, body)
        assert reply.status == 200, (event, reply.body)
        letter = get_letter(api, org, letter_id)
        assert letter["status"] == expected, event
        if expected == "failed":
            assert letter["error"]["fix"]
    failed = [t for t in _tasks(api, org) if t["kind"] == "manual_intervention"]
    assert len(failed) == 1 and "failed at mysendingbox" in failed[0]["note"]


def test_forged_unsigned_mysendingbox_return_changes_nothing(
    api: Api, aws: Aws, msb: tuple[Org, StrictFake, dict[str, str]]
) -> None:
    org, fake, _ = msb
    [(letter_id, pid)] = _sent_letters(api, aws, org, 1)
    headers, body = fake.emit(pid, {"event": "letter.returned_to_sender"})
    forged = {**headers, "Authorization": "Basic " + base64.b64encode(b"webhook:guessed").decode()}
    for attempt in (headers, forged):
        reply = _hook(api, "mysendingbox", org, attempt, body)
        assert reply.status == 401 and reply.json["error"]["code"] == "invalid_signature"
    assert get_letter(api, org, letter_id)["status"] == "submitted"
    customer = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key).json
    assert customer["address_state"] != "returned"
    assert _tasks(api, org) == []


# ------------------------------------------------------------------------------------------------------ PostGrid
def _postgrid(api: Api, strict: StartFake, monkeypatch: pytest.MonkeyPatch, unit: str) -> tuple[Org, StrictFake]:
    org = api.new_org()
    patched = api(
        "orgs_api",
        "PATCH",
        f"/v1/orgs/{org.org_id}",
        key=org.key,
        body={"branding": {"name": "Acme Inc", "sender_address": {**US_SENDER, "country": "US"}}},
    )
    assert patched.status == 200, patched.body
    webhook = _connect(api, org, "postgrid", {"api_key": "test_sk_strict"})
    fake = strict("postgrid", "--webhook-secret", webhook["signing_secret"], "--webhook-ts-unit", unit)
    _point(monkeypatch, POSTGRID_API_URL=fake.url)
    _customer(api, org, US_ADDRESS)
    return org, fake


POSTGRID_LIFECYCLES = {
    "delivered, then returned": [
        ({"status": "printing"}, "printing"),
        ({"status": "processed_for_delivery", "imbStatus": "entered_mail_stream"}, "sent"),
        ({"imbStatus": "out_for_delivery"}, "sent"),
        ({"status": "completed"}, "delivered"),
        ({"imbStatus": "returned_to_sender"}, "undeliverable"),
    ],
    "cancelled by the user": [({"cancellation_reason": "user_initiated"}, "cancelled")],
    "cancelled for its content": [({"cancellation_reason": "invalid_content"}, "failed")],
    "cancelled for its mailing class": [({"cancellation_reason": "invalid_order_mailing_class"}, "failed")],
}


@pytest.mark.parametrize("unit", ["ms", "s"])
def test_every_postgrid_webhook_kind_moves_its_letter(
    api: Api, aws: Aws, strict: StartFake, monkeypatch: pytest.MonkeyPatch, unit: str
) -> None:
    org, fake = _postgrid(api, strict, monkeypatch, unit)
    letters = _sent_letters(api, aws, org, len(POSTGRID_LIFECYCLES))
    for (letter_id, pid), (name, steps) in zip(letters, POSTGRID_LIFECYCLES.items(), strict=True):
        assert get_letter(api, org, letter_id)["status"] == "accepted"  # PostGrid `ready`
        for change, expected in steps:
            fake.advance(pid, change)
            headers, body = fake.emit(pid, {"type": "letter.updated"})
            reply = _hook(api, "postgrid", org, headers, body)
            assert reply.status == 200, (name, reply.body)
            assert get_letter(api, org, letter_id)["status"] == expected, (name, change)
    assert sum(t["kind"] == "manual_intervention" for t in _tasks(api, org)) == 2  # the two content/class failures


def test_postgrid_webhook_in_the_jwt_payload_format_through_the_handler(
    api: Api, aws: Aws, strict: StartFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostGrid's default payload format: the event as a JWT signed HS256 with the webhook secret. The strict fake
    # emits only the json format, so the token is built here from the letter the fake holds.
    org, fake = _postgrid(api, strict, monkeypatch, "ms")
    [(letter_id, pid)] = _sent_letters(api, aws, org, 1)
    letter = fake.advance(pid, {"status": "printing"})
    secret = bootstrap.secret_store().get(str(bootstrap.stores().integrations.secret_ref(org.org_id)))[
        "webhook_signing_key"
    ]
    event = {"id": "event_jwt_1", "object": "event", "type": "letter.updated", "data": letter}
    token = jwt.encode({**event, "iat": int(time.time())}, secret, algorithm="HS256").encode()
    reply = _hook(api, "postgrid", org, {"Content-Type": "text/plain"}, token)
    assert reply.status == 200, reply.body
    assert get_letter(api, org, letter_id)["status"] == "printing"
    forged = jwt.encode({**event, "iat": int(time.time())}, "x" * 32, algorithm="HS256").encode()
    assert _hook(api, "postgrid", org, {"Content-Type": "text/plain"}, forged).status == 401


def test_postgrid_webhook_signed_with_another_secret_is_refused(
    api: Api, aws: Aws, strict: StartFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, _ = _postgrid(api, strict, monkeypatch, "ms")
    [(letter_id, pid)] = _sent_letters(api, aws, org, 1)
    # What a forger who knows the letter id could produce: a well-formed, fresh, signed event with the wrong secret.
    body = json.dumps({"id": "event_x", "type": "letter.updated", "data": {"id": pid, "status": "completed"}})
    t = str(int(time.time() * 1000))
    sig = hmac.new(b"whsec_not_the_org_secret_0123456789", f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    reply = _hook(api, "postgrid", org, {"PostGrid-Signature": f"t={t},v1={sig}"}, body.encode())
    assert reply.status == 401
    assert get_letter(api, org, letter_id)["status"] == "accepted"


# -------------------------------------------------------------------------------------------------------- Pingen
def pingen_webhook(kind: str, pid: str, code: str, letter_status: str, **attributes: Any) -> bytes:
    """A Pingen webhook as pingen2-sdk-php's IncomingWebhookTest shows it (JSON:API, event in `included`)."""
    event_id = str(uuid.uuid4())
    return json.dumps(
        {
            "data": {
                "id": str(uuid.uuid4()),
                "type": kind,
                "attributes": {"reason": attributes.pop("reason", code), "url": "https://x", **attributes},
                "relationships": {
                    "organisation": {"data": {"id": "org-1", "type": "organisations"}},
                    "letter": {"data": {"id": pid, "type": "letters"}},
                    "event": {"data": {"id": event_id, "type": "letters_events"}},
                },
            },
            "included": [
                {"id": pid, "type": "letters", "attributes": {"status": letter_status}},
                {"id": event_id, "type": "letters_events", "attributes": {"code": code, "name": code}},
            ],
        }
    ).encode()


PINGEN_WEBHOOKS = [
    ("webhook_sent", "transferred_to_distributor", "sent", "sent"),
    ("webhook_delivered", "delivered", "delivered", "delivered"),
    ("webhook_undeliverable", "undeliverable", "undeliverable", "undeliverable"),
    ("webhook_issues", "rejected_from_printcenter", "unprintable", "failed"),
    ("webhook_issues", "file_not_a4_portrait", "action_required", "failed"),
    ("webhook_issues", "waiting_for_funds_expired", "expired", "failed"),
    ("webhook_issues", "a_code_nobody_documented", "invalid", "failed"),
    ("webhook_issues", "waiting_for_funds", "awaiting_credits", "submitted"),
    ("webhook_issues", "cancellation_completed", "cancelled", "cancelled"),
]


def test_every_pingen_webhook_kind_moves_its_letter(
    api: Api, aws: Aws, strict: StartFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = strict("pingen", "--client-id", "cid", "--client-secret", "csecret", "--org", "org-1")
    _point(monkeypatch, PINGEN_API_URL=fake.url, PINGEN_IDENTITY_URL=fake.url)
    org = api.new_org()
    credentials = {"client_id": "cid", "client_secret": "csecret", "organisation_id": "org-1"}
    key = _connect(api, org, "pingen", credentials)["signing_secret"]
    _customer(api, org, ADDRESS)
    letters = _sent_letters(api, aws, org, len(PINGEN_WEBHOOKS))
    for (letter_id, pid), (kind, code, status, expected) in zip(letters, PINGEN_WEBHOOKS, strict=True):
        body = pingen_webhook(kind, pid, code, status)
        signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/vnd.api+json", "Signature": signature}
        reply = _hook(api, "pingen", org, headers, body)
        assert reply.status == 200, (code, reply.body)
        letter = get_letter(api, org, letter_id)
        assert letter["status"] == expected, code
        if expected == "failed":
            assert letter["error"]["fix"], code
        bad = _hook(api, "pingen", org, {**headers, "Signature": "0" * 64}, body)
        assert bad.status == 401
    failed = [t for t in _tasks(api, org) if t["kind"] == "manual_intervention"]
    assert len(failed) == 4
    assert any("rejected_by_provider" in t["note"] and "print centre" in t["note"] for t in failed)

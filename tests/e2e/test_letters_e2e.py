"""Issue 5 done-when, over HTTP on the local stack: quote, send to the sandbox, follow it to `sent`, cancel another."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from tests.e2e.conftest import Stack, http
from tests.unit.documents import pdf_corpus

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# What `pdf_corpus.good_letter` prints in its window: an uploaded PDF is only mailed to the address it shows.
ADDRESS = {
    "name": "Erika Müller",
    "company": "Muster AG",
    "lines": ["Bahnhofstrasse 12"],
    "postal_code": "8001",
    "city": "Zürich",
    "country": "CH",
}
MAX_WAIT_S = 30


def _auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def _letter(stack: Stack, org_id: str, key: str, idem: str) -> dict[str, Any]:
    body = {
        "recipient": {"address": ADDRESS},
        "postage": "priority",
        "send": True,
        "pdf_base64": base64.b64encode(pdf_corpus.good_letter_cached()).decode(),
    }
    reply = http("POST", f"{stack.base_url}/v1/orgs/{org_id}/letters", body, _auth(key, **{"Idempotency-Key": idem}))
    assert reply.status == 202, reply.body
    data: dict[str, Any] = reply.json
    return data


def _wait_for(stack: Stack, org_id: str, key: str, letter_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + MAX_WAIT_S
    letter: dict[str, Any] = {}
    while time.monotonic() < deadline:
        letter = http("GET", f"{stack.base_url}/v1/orgs/{org_id}/letters/{letter_id}", headers=_auth(key)).json
        if letter["status"] in statuses:
            return letter
        time.sleep(0.2)
    raise AssertionError(f"letter stayed {letter.get('status')} for {MAX_WAIT_S} s: {letter.get('events')}")


def test_quote_send_follow_to_sent_and_cancel_another(stack: Stack) -> None:
    created = http("POST", f"{stack.base_url}/v1/orgs", {"name": "E2E Letters"}, _auth(stack.admin_key))
    assert created.status == 201, created.body
    org_id, key = created.json["org"]["org_id"], created.json["api_key"]
    connect = http(
        "POST",
        f"{stack.base_url}/v1/orgs/{org_id}/integrations/postal/connect",
        {"provider": "sandbox", "credentials": {}, "confirm": True},
        _auth(key),
    )
    assert connect.status == 200, connect.body

    quote = http(
        "GET", f"{stack.base_url}/v1/orgs/{org_id}/prices?country=CH&pages=1&postage=priority", headers=_auth(key)
    )
    assert quote.status == 200, quote.body
    assert quote.json["source"] == "provider" and float(quote.json["amount"]) > 0

    letter = _letter(stack, org_id, key, "e2e-1")
    sent = _wait_for(stack, org_id, key, letter["letter_id"], {"sent", "delivered", "failed", "cancelled"})
    assert sent["status"] == "sent", sent
    statuses = [e["status"] for e in sent["events"] if e.get("applied", True)]
    assert statuses[:3] == ["created", "rendered", "queued"]
    assert {"submitted", "sent"} <= set(statuses)
    assert sent["provider_letter_id"]

    # Another letter, cancelled while the sandbox still allows it (before printing starts).
    other = _letter(stack, org_id, key, "e2e-2")
    # Right after sending the letter may be mid hand-over: the cancel waits for it (200), or queues (202).
    cancel = http("POST", f"{stack.base_url}/v1/orgs/{org_id}/letters/{other['letter_id']}/cancel", {}, _auth(key))
    assert (cancel.status, cancel.json["cancel_queued"]) in ((200, False), (202, True)), cancel.body
    final = _wait_for(stack, org_id, key, other["letter_id"], {"cancelled"})
    assert final["status"] == "cancelled"


def test_a_large_pdf_goes_through_the_presigned_upload_and_is_sent(stack: Stack) -> None:
    import urllib.request

    created = http("POST", f"{stack.base_url}/v1/orgs", {"name": "E2E Uploads"}, _auth(stack.admin_key))
    org_id, key = created.json["org"]["org_id"], created.json["api_key"]
    body = {"provider": "sandbox", "credentials": {}, "confirm": True}
    assert (
        http("POST", f"{stack.base_url}/v1/orgs/{org_id}/integrations/postal/connect", body, _auth(key)).status == 200
    )
    body = {"recipient": {"address": ADDRESS}, "postage": "priority", "send": True, "upload": True}
    reply = http("POST", f"{stack.base_url}/v1/orgs/{org_id}/letters", body, _auth(key, **{"Idempotency-Key": "up"}))
    assert reply.status == 202, reply.body
    letter = reply.json
    assert letter["status"] == "created" and letter["upload_url"]

    put = urllib.request.Request(
        letter["upload_url"], data=pdf_corpus.good_letter_cached(), method="PUT",
        headers={"Content-Type": "application/pdf"},
    )  # fmt: skip
    with urllib.request.urlopen(put, timeout=30) as response:  # the presigned PUT, as a client sends it
        assert response.status == 200
    sent = _wait_for(stack, org_id, key, letter["letter_id"], {"sent", "delivered", "failed", "cancelled"})
    assert sent["status"] == "sent", sent
    assert sent["page_count"] >= 1 and sent["pdf_url"]

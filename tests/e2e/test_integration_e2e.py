"""Issue 3 done-when, over HTTP on the local stack: connect gating with its banner, post refused while
disconnected, the channel resolution truth table (connected, then disconnected), the disconnect cascade through
the stack's own SQS delivery, job progress, and a re-connect that restores nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import Reply, Stack, http

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ADDRESS = {
    "name": "Jana Müller",
    "lines": ["Unter den Linden 1"],
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}


class Client:
    def __init__(self, stack: Stack, org_id: str, key: str):
        self.base = f"{stack.base_url}/v1/orgs/{org_id}"
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(self, method: str, path: str, body: Any = None) -> Reply:
        return http(method, self.base + path, body, self.headers)


@pytest.fixture
def org(stack: Stack) -> Client:
    created = http(
        "POST", f"{stack.base_url}/v1/orgs", {"name": "E2E Integration"}, {"Authorization": f"Bearer {stack.admin_key}"}
    )
    assert created.status == 201, created.body
    return Client(stack, created.json["org"]["org_id"], created.json["api_key"])


def connect(org: Client, confirm: bool = True) -> Reply:
    return org("POST", "/integrations/postal/connect", {"provider": "sandbox", "credentials": {}, "confirm": confirm})


def channel(org: Client, customer: str, template: str) -> tuple[str, str]:
    reply = org("GET", f"/customers/{customer}/channel?template_id={template}")
    assert reply.status == 200, reply.body
    return reply.json["channel"], reply.json["reason"]


def test_connect_gating_and_post_only_while_connected(org: Client) -> None:
    assert org("PUT", "/templates/reminder", {"kind": "reminder"}).status == 200
    refused = org("PUT", "/customers/c1", {"name": "Jana", "billing_address": ADDRESS, "preference": "post"})
    assert (refused.status, refused.json["error"]["code"]) == (409, "integration_not_connected")

    custom = {
        "kind": "invoice",
        "address_position": "custom",
        "custom_address_box": {"x_mm": 22, "y_mm": 38, "width_mm": 85, "height_mm": 25},
    }
    assert org("PUT", "/templates/invoice", custom).status == 200
    preview = connect(org, confirm=False)
    assert preview.status == 200
    assert preview.json["compatible"] is False
    blocked = connect(org)
    assert blocked.status == 409
    banner = blocked.json["error"]["details"]["banner"]
    assert [(b["template_id"], b["code"]) for b in banner] == [("invoice", "custom_address_position")]
    assert "38 mm" in banner[0]["message"]

    assert org("PUT", "/templates/invoice", {"kind": "invoice"}).status == 200
    assert connect(org).status == 200
    assert org("PUT", "/customers/c1", {"name": "Jana", "billing_address": ADDRESS, "preference": "post"}).status == 200
    assert channel(org, "c1", "reminder") == ("post", "customer_preference")


def test_disconnect_cascade_runs_on_the_stack_and_reconnect_restores_nothing(org: Client) -> None:
    assert connect(org).status == 200
    assert org("PUT", "/templates/reminder", {"kind": "reminder", "default_channel": "post"}).status == 200
    for i in range(25):
        reply = org("PUT", f"/customers/c{i}", {"name": "Jana", "billing_address": ADDRESS, "preference": "post"})
        assert reply.status == 200
    assert org("PUT", "/customers/mail", {"name": "Mia", "billing_address": ADDRESS}).status == 200
    steps = {"steps": [{"day_offset": 7, "template_id": "reminder", "action": "post"}]}
    assert org("PUT", "/collection-steps", steps).status == 200
    assert channel(org, "mail", "reminder") == ("post", "template_default")

    impact = org("GET", "/integrations/postal/disconnect-impact").json
    assert (impact["customers_with_post"], impact["templates_with_post"], impact["steps_with_post"]) == (
        25,
        ["reminder"],
        [0],
    )
    started = org("POST", "/integrations/postal/disconnect")
    assert started.status == 202
    # Effective immediately, before the cascade reaches anything:
    assert channel(org, "c0", "reminder") == ("email", "template_default")

    deadline, job = time.monotonic() + 30, started.json
    while job["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = org("GET", f"/jobs/{started.json['job_id']}").json
    assert job["status"] == "completed", job
    assert job["done"] == job["total"] == 25 + 1 + 1

    assert org("GET", "/customers/c7").json["preference"] is None
    assert org("GET", "/templates/reminder").json["default_channel"] == "email"
    assert org("GET", "/collection-steps").json["steps"][0]["action"] == "manual_intervention"

    assert connect(org).status == 200
    assert org("GET", "/customers/c7").json["preference"] is None
    assert org("GET", "/templates/reminder").json["default_channel"] == "email"
    assert channel(org, "c7", "reminder") == ("email", "template_default")


CHANNELS = ("email", "sms", "post")


def _expected(pref: str | None, default: str, connected: bool) -> tuple[str, str]:
    """PRODUCT.md §2.2, restated: the preference wins; post exists only while connected (a disconnect clears post
    preferences and turns post defaults into email)."""
    if pref is not None and (pref != "post" or connected):
        return pref, "customer_preference"
    if default == "post" and not connected:
        return "email", "template_default"
    return default, "template_default"


def test_resolution_truth_table_over_http_connected_then_disconnected(org: Client) -> None:
    assert connect(org).status == 200
    for default in CHANNELS:
        reply = org("PUT", f"/templates/t-{default}", {"kind": "reminder", "default_channel": default})
        assert reply.status == 200, reply.body
    prefs: list[str | None] = [None, *CHANNELS]
    for pref in prefs:
        body = {"name": "Jana", "billing_address": ADDRESS, "email": "jana@example.com", "phone": "+49 30 1234567"}
        reply = org("PUT", f"/customers/p-{pref or 'none'}", {**body, **({"preference": pref} if pref else {})})
        assert reply.status == 200, reply.body

    def table() -> dict[tuple[str | None, str], tuple[str, str]]:
        return {(p, d): channel(org, f"p-{p or 'none'}", f"t-{d}") for p in prefs for d in CHANNELS}

    expected_connected = {(p, d): _expected(p, d, True) for p in prefs for d in CHANNELS}
    assert table() == expected_connected

    started = org("POST", "/integrations/postal/disconnect")
    assert started.status == 202
    expected_disconnected = {(p, d): _expected(p, d, False) for p in prefs for d in CHANNELS}
    assert table() == expected_disconnected  # at once, whatever the cascade has reached
    deadline, job = time.monotonic() + 30, started.json
    while job["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = org("GET", f"/jobs/{started.json['job_id']}").json
    assert job["status"] == "completed", job
    assert table() == expected_disconnected  # and the same once it has reverted the stored values
    assert len(expected_connected) + len(expected_disconnected) == 4 * 3 * 2

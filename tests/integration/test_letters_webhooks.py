"""Provider webhooks through the real handler: signature, dedupe, forward-only statuses, returned mail."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from local.sandbox_server import SandboxServer, webhook_body
from postal import bootstrap
from postal.store.events import EventPublisher
from tests.apigw import Reply
from tests.conftest import Api, Aws, Org
from tests.integration.letters_support import connected_org, deliver, get_letter, send


def _submitted(api: Api, aws: Aws, key: str = "k1") -> tuple[Org, str, str]:
    org = connected_org(api)
    letter_id = send(api, org, key=key).json["letter_id"]
    deliver(aws)
    return org, letter_id, get_letter(api, org, letter_id)["provider_letter_id"]


def _post(
    api: Api,
    org: Org,
    sandbox: SandboxServer,
    provider_id: str,
    status: str,
    *,
    event_id: str | None = None,
    key: str | None = None,
    provider: str = "sandbox",
) -> Reply:
    letter = sandbox.letters[provider_id]
    letter.status = status
    body = webhook_body(letter, event_id or str(uuid.uuid4()))
    secret = bootstrap.secret_store().get(str(bootstrap.stores().integrations.secret_ref(org.org_id)))
    signature = hmac.new((key or secret["webhook_signing_key"]).encode(), body, hashlib.sha256).hexdigest()
    return api(
        "webhooks",
        "POST",
        f"/v1/webhooks/{provider}/{org.org_id}",
        raw_body=body,
        headers={"Content-Type": "application/vnd.api+json", "Signature": signature},
        auth=False,
    )


def test_signed_webhook_moves_the_status_and_publishes(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)
    reply = _post(api, org, sandbox, pid, "accepted")
    assert reply.status == 200, reply.body
    assert reply.json == {"received": 1, "applied": 1, "duplicates": 0}
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "accepted"
    assert letter["events"][-1]["source"] == "sandbox" and letter["events"][-1]["raw_status"] == "accepted"


def test_bad_signature_is_401_and_changes_nothing(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)
    reply = _post(api, org, sandbox, pid, "sent", key="not-the-key")
    assert reply.status == 401
    assert get_letter(api, org, letter_id)["status"] == "submitted"


def test_unknown_org_or_provider_mismatch_answers_like_a_bad_signature(
    api: Api, aws: Aws, sandbox: SandboxServer
) -> None:
    org, letter_id, pid = _submitted(api, aws)
    bad_signature = _post(api, org, sandbox, pid, "sent", key="not-the-key")
    mismatch = _post(api, org, sandbox, pid, "sent", provider="pingen")
    unknown = api("webhooks", "POST", "/v1/webhooks/sandbox/org_nope", raw_body=b"{}", auth=False)
    # Nothing tells a caller without the credentials whether the org exists or which provider it uses.
    assert bad_signature.status == mismatch.status == unknown.status == 401
    assert bad_signature.json == mismatch.json == unknown.json
    assert get_letter(api, org, letter_id)["status"] == "submitted"


def test_replayed_event_is_deduplicated(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)
    first = _post(api, org, sandbox, pid, "accepted", event_id="evt-1")
    again = _post(api, org, sandbox, pid, "accepted", event_id="evt-1")
    assert first.json["applied"] == 1
    assert again.status == 200 and again.json == {"received": 1, "applied": 0, "duplicates": 1}
    assert [e["status"] for e in get_letter(api, org, letter_id)["events"]].count("accepted") == 1


def test_the_history_lists_each_status_once(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)  # dispatch recorded `submitted`
    assert _post(api, org, sandbox, pid, "submitted").json["applied"] == 0  # the provider's own report of it
    assert _post(api, org, sandbox, pid, "accepted").json["applied"] == 1
    assert _post(api, org, sandbox, pid, "accepted").json["applied"] == 0  # reported again under a new event id
    statuses = [e["status"] for e in get_letter(api, org, letter_id)["events"]]
    assert statuses == ["created", "rendered", "queued", "submitted", "accepted"]


def test_older_event_after_a_newer_one_goes_to_history_only(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)
    assert _post(api, org, sandbox, pid, "sent").json["applied"] == 1
    late = _post(api, org, sandbox, pid, "accepted")
    assert late.json["applied"] == 0
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "sent"
    accepted = [e for e in letter["events"] if e["status"] == "accepted"]
    assert accepted and accepted[0]["applied"] is False


def test_event_after_a_final_status_is_history_only(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)
    assert _post(api, org, sandbox, pid, "delivered").json["applied"] == 1
    assert _post(api, org, sandbox, pid, "printing").json["applied"] == 0
    assert get_letter(api, org, letter_id)["status"] == "delivered"


def test_undeliverable_marks_the_address_and_opens_a_task(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)
    sandbox.letters[pid].error_code = "undeliverable"
    assert _post(api, org, sandbox, pid, "undeliverable").json["applied"] == 1
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "undeliverable"
    assert letter["error"]["code"] == "undeliverable" and letter["error"]["fix"]
    customer = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key).json
    assert customer["address_state"] == "returned"
    tasks = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json
    fix = [t for t in tasks["items"] if t["kind"] == "fix_address"]
    assert len(fix) == 1 and fix[0]["customer_id"] == "c1"
    # A further letter to that customer is refused until the address is fixed.
    blocked = send(api, org, key="again")
    assert blocked.status == 409 and blocked.json["error"]["code"] == "address_returned"


def test_status_changes_are_published_on_eventbridge(
    api: Api, aws: Aws, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[tuple[str, dict[str, object]]] = []

    def record(self: EventPublisher, detail_type: str, detail: dict[str, object]) -> None:
        published.append((detail_type, detail))

    monkeypatch.setattr(EventPublisher, "publish", record)
    org, letter_id, pid = _submitted(api, aws)
    _post(api, org, sandbox, pid, "accepted")
    statuses = [d["status"] for t, d in published if t == "LetterStatusChanged" and d["letter_id"] == letter_id]
    assert statuses == ["queued", "submitted", "accepted"]
    assert all("recipient" not in d and "name" not in d for _, d in published)


@pytest.mark.parametrize(
    ("fallback", "email", "emails_asked"), [("email", True, 1), ("email", False, 0), ("none", True, 0)]
)
def test_returned_mail_falls_back_to_email_when_the_org_chose_it(
    api: Api,
    aws: Aws,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    fallback: str,
    email: bool,
    emails_asked: int,
) -> None:
    published: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(EventPublisher, "publish", lambda self, kind, detail: published.append((kind, detail)))
    org, letter_id, pid = _submitted(api, aws)
    patched = api("orgs_api", "PATCH", f"/v1/orgs/{org.org_id}", key=org.key, body={"returned_mail_fallback": fallback})
    assert patched.status == 200, patched.body
    customer = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key).json
    if email:
        body = {k: customer[k] for k in ("name", "billing_address")} | {"email": "erika@example.com"}
        assert api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key, body=body).status == 200

    sandbox.letters[pid].error_code = "undeliverable"
    assert _post(api, org, sandbox, pid, "undeliverable").json["applied"] == 1
    assert _post(api, org, sandbox, pid, "undeliverable").json["applied"] == 0  # a late repeat asks nothing more

    asked = [d for kind, d in published if kind == "CommunicationDue"]
    assert len(asked) == emails_asked
    if asked:
        assert asked[0] == {
            "org_id": org.org_id,
            "run_id": f"returned:{letter_id}",
            "channel": "email",
            "customer_id": "c1",
            "letter_id": letter_id,
            "reason": "returned_mail",
        }
    tasks = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]
    assert [t["kind"] for t in tasks] == ["fix_address"]  # the task is opened either way


def _disconnect(api: Api, aws: Aws, org: Org) -> None:
    reply = api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
    assert reply.status == 202, reply.body
    aws.drain("CascadeQueue", "disconnect_cascade")


def test_tracking_outlives_a_disconnect_and_a_switch_of_provider(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org, letter_id, pid = _submitted(api, aws)
    old_secret = bootstrap.secret_store().get(str(bootstrap.stores().integrations.secret_ref(org.org_id)))
    _disconnect(api, aws, org)
    after_disconnect = _post(api, org, sandbox, pid, "printing", key=old_secret["webhook_signing_key"])
    assert after_disconnect.status == 200 and after_disconnect.json["applied"] == 1

    generic = {"endpoint_url": "https://print.example.com/api", "secret": "s" * 32}
    assert api.connect(org, "generic", generic).status == 200
    after_switch = _post(api, org, sandbox, pid, "sent", key=old_secret["webhook_signing_key"])
    assert after_switch.status == 200 and after_switch.json["applied"] == 1
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "sent" and letter["provider"] == "sandbox"
    # The new connection's secret is not the old one's: each connection keeps its own.
    assert (
        bootstrap.secret_store().get(str(bootstrap.stores().integrations.secret_ref(org.org_id)))["provider"]
        == "generic"
    )


def test_a_second_connection_does_not_overwrite_the_first_ones_secret(
    api: Api, aws: Aws, sandbox: SandboxServer
) -> None:
    org, _, _ = _submitted(api, aws)
    first = bootstrap.stores().integrations.secret_ref(org.org_id)
    _disconnect(api, aws, org)
    assert api.connect(org, "sandbox").status == 200
    second = bootstrap.stores().integrations.secret_ref(org.org_id)
    assert first != second
    assert bootstrap.stores().integrations.secret_refs(org.org_id) == [second, first]
    assert bootstrap.secret_store().get(str(first))["provider"] == "sandbox"

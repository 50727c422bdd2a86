"""Lost webhooks: the letter-reconciliation schedule through its real handler, under moto, to a real sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from local.sandbox_server import SandboxServer
from postal import bootstrap
from postal.config import get_config
from tests.apigw import FakeLambdaContext, handler
from tests.conftest import Api, Aws, Org
from tests.integration.letters_support import connected_org, deliver, get_letter, send


def _fire(org: Org | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"job": "letter-reconciliation"}
    if org:
        event["org_id"] = org.org_id
    result: dict[str, Any] = handler("letter_reconciliation")(event, FakeLambdaContext())
    return result


@pytest.fixture
def at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sandbox letter counts as stuck at once (production: RECONCILE_AFTER_HOURS per provider)."""
    monkeypatch.setenv("RECONCILE_AFTER_HOURS", "sandbox=0")
    get_config.cache_clear()


def _submitted(api: Api, aws: Aws) -> tuple[Org, str, str]:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    deliver(aws)
    return org, letter_id, get_letter(api, org, letter_id)["provider_letter_id"]


def test_a_lost_webhook_is_repaired_from_the_provider_as_a_job(
    api: Api, aws: Aws, sandbox: SandboxServer, at_once: None
) -> None:
    org, letter_id, pid = _submitted(api, aws)
    sandbox.letters[pid].status = "printing"  # the provider moved on; its webhook never arrived
    [summary] = _fire(org)["orgs"]
    assert (summary["checked"], summary["changed"], summary["failed"]) == (1, 1, 0)
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "printing"
    assert letter["events"][-1]["source"] == "sandbox" and letter["events"][-1]["raw_status"] == "printing"
    job = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/{summary['job_id']}", key=org.key).json
    assert (job["kind"], job["status"], job["done"], job["total"]) == ("letter_reconciliation", "completed", 1, 1)
    # Nothing new at the provider: the next run changes nothing and never goes backwards.
    assert _fire(org)["orgs"][0]["changed"] == 0
    assert get_letter(api, org, letter_id)["status"] == "printing"


def test_letters_younger_than_the_providers_normal_time_are_left_alone(
    api: Api, aws: Aws, sandbox: SandboxServer
) -> None:
    org, letter_id, pid = _submitted(api, aws)
    sandbox.letters[pid].status = "sent"
    assert _fire(org)["orgs"][0]["checked"] == 0  # the sandbox default is one hour
    assert get_letter(api, org, letter_id)["status"] == "submitted"


def test_reconciliation_polls_the_provider_a_letter_was_sent_with_after_a_switch(
    api: Api, aws: Aws, sandbox: SandboxServer, at_once: None
) -> None:
    org, letter_id, pid = _submitted(api, aws)
    reply = api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
    assert reply.status == 202
    aws.drain("CascadeQueue", "disconnect_cascade")
    generic = {"endpoint_url": "https://print.example.com/api", "secret": "s" * 32}
    assert api.connect(org, "generic", generic).status == 200
    sandbox.letters[pid].error_code = "undeliverable"
    sandbox.letters[pid].status = "undeliverable"
    [summary] = _fire(org)["orgs"]
    assert summary["changed"] == 1
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "undeliverable" and letter["provider"] == "sandbox"
    customer = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key).json
    assert customer["address_state"] == "returned"


def test_one_orgs_unreachable_provider_does_not_stop_another_org(
    api: Api, aws: Aws, sandbox: SandboxServer, at_once: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, _, _ = _submitted(api, aws)
    fine, fine_letter, fine_pid = _submitted(api, aws)
    sandbox.letters[fine_pid].status = "sent"
    original = bootstrap.providers

    def providers_failing_for_broken() -> Any:
        factory = original()
        real = factory.for_ref

        def for_ref(org_id: str, ref: str | None) -> Any:
            if org_id == broken.org_id:
                raise RuntimeError("secret unreadable")
            return real(org_id, ref)

        factory.for_ref = for_ref  # type: ignore[method-assign]
        return factory

    monkeypatch.setattr(bootstrap, "providers", providers_failing_for_broken)
    orgs = {o["org_id"]: o for o in _fire()["orgs"]}
    assert broken.org_id not in orgs
    assert orgs[fine.org_id]["changed"] == 1
    assert get_letter(api, fine, fine_letter)["status"] == "sent"

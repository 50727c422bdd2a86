"""Exactly-once through the real dispatch handler (SQS receives, claims, retries) against the strict fakes."""

from __future__ import annotations

import httpx
import pytest

from postal import bootstrap
from tests.conftest import Api, Aws
from tests.contract.conftest import LoseResponses, StartFake
from tests.contract.test_webhooks_contract import US_ADDRESS, US_SENDER, _connect, _customer, _point, _sent_letters
from tests.integration.letters_support import ADDRESS, FR_ADDRESS, get_letter


def test_pingen_answers_lost_on_every_attempt_of_a_receive_mail_once_with_one_upload(
    api: Api, aws: Aws, strict: StartFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = strict("pingen", "--client-id", "cid", "--client-secret", "csecret", "--org", "org-1")
    _point(monkeypatch, PINGEN_API_URL=fake.url, PINGEN_IDENTITY_URL=fake.url)
    org = api.new_org()
    _connect(api, org, "pingen", {"client_id": "cid", "client_secret": "csecret", "organisation_id": "org-1"})
    _customer(api, org, ADDRESS)
    # The first receive loses every answer of its create attempts (3); the next receive gets through.
    lossy = LoseResponses("POST", "/organisations/org-1/deliveries/letters", "lost", times=3)
    monkeypatch.setattr(bootstrap, "provider_http", lambda: httpx.Client(transport=lossy))
    [(letter_id, pid)] = _sent_letters(api, aws, org, 1)
    state = fake.state()
    assert state["letters"] == 1 and state["letter_list"][0]["id"] == pid
    assert len(lossy.bodies) == 4 and len(set(lossy.bodies)) == 1  # every create the same bytes, one key
    assert get_letter(api, org, letter_id)["status"] == "submitted"


def test_postgrid_lost_create_with_a_lagging_search_mails_once_through_dispatch(
    api: Api, aws: Aws, strict: StartFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = api.new_org()
    sender = {"name": "Acme Inc", "sender_address": {**US_SENDER, "country": "US"}}
    assert api("orgs_api", "PATCH", f"/v1/orgs/{org.org_id}", key=org.key, body={"branding": sender}).status == 200
    webhook = _connect(api, org, "postgrid", {"api_key": "test_sk_strict"})
    fake = strict(
        "postgrid", "--webhook-secret", webhook["signing_secret"], "--drop-after-create", "1", "--search-lag", "60"
    )
    _point(monkeypatch, POSTGRID_API_URL=fake.url)
    _customer(api, org, US_ADDRESS)
    [(letter_id, pid)] = _sent_letters(api, aws, org, 1)
    assert [letter["id"] for letter in fake.state()["letters"]] == [pid]
    assert get_letter(api, org, letter_id)["status"] == "accepted"


def test_mysendingbox_crash_after_accept_mails_once_through_dispatch(
    api: Api, aws: Aws, strict: StartFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = strict("mysendingbox", "--fail-after-create", "1")
    _point(monkeypatch, MYSENDINGBOX_API_URL=fake.url)
    org = api.new_org()
    _connect(api, org, "mysendingbox", {"api_key": "test_msb_strict"})
    _customer(api, org, FR_ADDRESS)
    [(letter_id, pid)] = _sent_letters(api, aws, org, 1)
    [letter] = fake.state()["letters"]
    assert letter["_id"] == pid and letter["metadata"]["letter_id"] == letter_id
    stored = get_letter(api, org, letter_id)
    assert stored["status"] == "submitted" and stored["price"] == str(letter["price"]["total"])

"""Creating orgs with an Idempotency-Key, and rotating an org's API key, through the real handlers under moto."""

from __future__ import annotations

import os

import boto3
import pytest

from postal import bootstrap
from postal.store import keys
from postal.store.admin_key import ADMIN_KEY_MAX_AGE_S, AdminKey
from postal.store.orgs import OrgRepository
from tests.apigw import authorize
from tests.conftest import Api, Aws


def _create(api: Api, aws: Aws, name: str, key: str | None) -> tuple[int, dict]:
    headers = {"Idempotency-Key": key} if key else None
    reply = api("orgs_api", "POST", "/v1/orgs", key=aws.admin_key, body={"name": name}, headers=headers)
    return reply.status, reply.json


def test_a_replayed_create_never_makes_a_second_org(api: Api, aws: Aws) -> None:
    status, first = _create(api, aws, "Acme GmbH", "create-acme")
    assert status == 201
    org_id = first["org"]["org_id"]

    status, replay = _create(api, aws, "Acme GmbH", "create-acme")
    assert status == 409
    assert replay["error"]["code"] == "org_already_created"
    assert replay["error"]["details"] == {"org_id": org_id}
    assert f"/v1/orgs/{org_id}/api-key" in replay["error"]["fix"]
    assert "api_key" not in replay  # the key is shown once, never stored to be shown again

    status, other_body = _create(api, aws, "Other GmbH", "create-acme")
    assert (status, other_body["error"]["code"]) == (422, "idempotency_key_reused")

    # The first key still works; without a key, every call creates an org.
    assert api("orgs_api", "GET", f"/v1/orgs/{org_id}", key=first["api_key"]).status == 200
    ids = {_create(api, aws, "Acme GmbH", None)[1]["org"]["org_id"] for _ in range(2)}
    assert len(ids) == 2 and org_id not in ids


def test_a_replay_finishes_a_create_that_crashed_after_reserving_the_key(
    api: Api, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = OrgRepository.create_org

    def crashing(self: OrgRepository, org, key_hash: str, **kwargs: object) -> None:
        raise RuntimeError("worker died")

    monkeypatch.setattr(OrgRepository, "create_org", crashing)
    with pytest.raises(RuntimeError):
        _create(api, aws, "Acme GmbH", "create-acme")
    monkeypatch.setattr(OrgRepository, "create_org", real)

    status, created = _create(api, aws, "Acme GmbH", "create-acme")
    assert status == 201
    assert api("orgs_api", "GET", f"/v1/orgs/{created['org']['org_id']}", key=created["api_key"]).status == 200
    assert _create(api, aws, "Acme GmbH", "create-acme")[0] == 409


def test_a_bad_idempotency_key_is_400(api: Api, aws: Aws) -> None:
    status, body = _create(api, aws, "Acme GmbH", "x" * 300)
    assert (status, body["error"]["code"]) == (400, "invalid_idempotency_key")


def test_rotating_the_key_revokes_the_old_one(api: Api, aws: Aws) -> None:
    org = api.new_org()
    reply = api("orgs_api", "POST", f"/v1/orgs/{org.org_id}/api-key", key=org.key)
    assert reply.status == 200
    new_key = reply.json["api_key"]
    assert new_key != org.key and reply.json["org_id"] == org.org_id

    assert api("orgs_api", "GET", f"/v1/orgs/{org.org_id}", key=new_key).status == 200
    assert api("orgs_api", "GET", f"/v1/orgs/{org.org_id}", key=org.key).status == 401

    # The admin can rotate it too (the org lost its key), and each rotation revokes the one before.
    reply = api("orgs_api", "POST", f"/v1/orgs/{org.org_id}/api-key", key=aws.admin_key)
    assert reply.status == 200
    assert api("orgs_api", "GET", f"/v1/orgs/{org.org_id}", key=new_key).status == 401
    assert api("orgs_api", "GET", f"/v1/orgs/{org.org_id}", key=reply.json["api_key"]).status == 200


def test_an_org_cannot_rotate_another_orgs_key_and_unknown_orgs_are_404(api: Api, aws: Aws) -> None:
    a, b = api.new_org("A"), api.new_org("B")
    reply = api("orgs_api", "POST", f"/v1/orgs/{a.org_id}/api-key", key=b.key)
    assert (reply.status, reply.json["error"]["code"]) == (404, "not_found")
    assert api("orgs_api", "GET", f"/v1/orgs/{a.org_id}", key=a.key).status == 200

    reply = api("orgs_api", "POST", "/v1/orgs/org_missing/api-key", key=aws.admin_key)
    assert (reply.status, reply.json["error"]["code"]) == (404, "not_found")


def test_two_rotations_racing_cannot_both_win(api: Api, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    org = api.new_org()
    stores = bootstrap.stores()
    real_get = OrgRepository._get
    rotated = {"done": False}

    def rotate_in_between(self: OrgRepository, pk: str, sk: str, *, consistent: bool = False):
        item = real_get(self, pk, sk, consistent=consistent)
        if (pk, sk) == (keys.org_pk(org.org_id), keys.ORG_API_KEY_SK) and not rotated[
            "done"
        ]:  # another rotation commits after this one read the pointer
            rotated["done"] = True
            monkeypatch.setattr(OrgRepository, "_get", real_get)
            stores.orgs.rotate_api_key(org.org_id, "f" * 64, "2026-11-23T00:00:00Z")
        return item

    monkeypatch.setattr(OrgRepository, "_get", rotate_in_between)
    reply = api("orgs_api", "POST", f"/v1/orgs/{org.org_id}/api-key", key=aws.admin_key)
    assert (reply.status, reply.json["error"]["code"]) == (409, "concurrent_modification")
    assert stores.orgs.org_for_key("f" * 64) == org.org_id  # the rotation that won is intact
    assert api("orgs_api", "GET", f"/v1/orgs/{org.org_id}", key=org.key).status == 401


def test_patch_changes_the_given_settings_and_keeps_the_rest(api: Api, aws: Aws) -> None:
    org = api.new_org()
    path = f"/v1/orgs/{org.org_id}"
    fee = {"amount": "1.50", "currency": "EUR"}
    reply = api("orgs_api", "PATCH", path, key=org.key, body={"paper_invoice_fee": fee, "window_standard": "din5008-b"})
    assert reply.status == 200, reply.body
    assert reply.json["paper_invoice_fee"] == fee and reply.json["name"] == "Acme GmbH"
    assert reply.json["returned_mail_fallback"] == "none" and reply.json["updated_at"]

    reply = api("orgs_api", "PATCH", path, key=org.key, body={"paper_invoice_fee": None, "name": "Acme AG"})
    assert reply.status == 200, reply.body
    got = api("orgs_api", "GET", path, key=org.key).json
    assert (got["name"], got["paper_invoice_fee"], got["window_standard"]) == ("Acme AG", None, "din5008-b")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": None}, 422, "validation_failed"),
        ({"colour": "red"}, 422, "validation_failed"),
        ({"returned_mail_fallback": "fax"}, 422, "validation_failed"),
        ({"window_standard": "NOPE"}, 404, "not_found"),
    ],
)
def test_patch_refuses_bad_settings_and_changes_nothing(api: Api, body: dict, status: int, code: str) -> None:
    org = api.new_org()
    path = f"/v1/orgs/{org.org_id}"
    reply = api("orgs_api", "PATCH", path, key=org.key, body=body)
    assert (reply.status, reply.json["error"]["code"]) == (status, code), reply.body
    got = api("orgs_api", "GET", path, key=org.key).json
    assert (got["name"], got.get("updated_at")) == ("Acme GmbH", None)


def test_an_org_cannot_patch_another_org(api: Api) -> None:
    a, b = api.new_org("A"), api.new_org("B")
    reply = api("orgs_api", "PATCH", f"/v1/orgs/{a.org_id}", key=b.key, body={"name": "Mine"})
    assert reply.status == 404
    assert api("orgs_api", "GET", f"/v1/orgs/{a.org_id}", key=a.key).json["name"] == "A"


def test_a_revoked_key_cannot_rotate_even_while_the_gateway_still_caches_it(api: Api, aws: Aws) -> None:
    org = api.new_org()
    cached = authorize(org.key)  # API Gateway cached K1's authorization before the owner rotated
    assert cached is not None
    owner = api("orgs_api", "POST", f"/v1/orgs/{org.org_id}/api-key", key=org.key)
    assert owner.status == 200
    k2 = owner.json["api_key"]

    attacker = api("orgs_api", "POST", f"/v1/orgs/{org.org_id}/api-key", key=org.key, cached_auth=cached)
    assert (attacker.status, attacker.json["error"]["code"]) == (401, "unauthorized")
    assert "api_key" not in attacker.json
    assert api("orgs_api", "GET", f"/v1/orgs/{org.org_id}", key=k2).status == 200  # the owner keeps the org


def test_a_rotated_admin_key_cannot_create_orgs_or_rotate_keys_without_a_cold_start(api: Api, aws: Aws) -> None:
    org = api.new_org()
    old_admin = authorize(aws.admin_key)
    assert old_admin is not None
    secrets = boto3.client("secretsmanager")
    secret_id = os.environ["ADMIN_KEY_SECRET_ID"]
    secrets.put_secret_value(SecretId=secret_id, SecretString="rotated-admin-key-0123456789")

    reply = api("orgs_api", "POST", "/v1/orgs", key=aws.admin_key, body={"name": "X"}, cached_auth=old_admin)
    assert (reply.status, reply.json["error"]["code"]) == (401, "unauthorized")
    reply = api("orgs_api", "POST", f"/v1/orgs/{org.org_id}/api-key", key=aws.admin_key, cached_auth=old_admin)
    assert reply.status == 401
    assert api("orgs_api", "GET", f"/v1/orgs/{org.org_id}", key=org.key).status == 200  # K1 untouched

    reply = api(
        "orgs_api",
        "POST",
        "/v1/orgs",
        key="rotated-admin-key-0123456789",
        body={"name": "Y"},
        auth=False,
        cached_auth={"org_id": "", "is_admin": "true"},
    )
    assert reply.status == 201


def test_the_authorizer_takes_a_rotated_admin_key_within_its_max_age() -> None:
    values = iter(["first-admin-key", "second-admin-key"])
    now = [0.0]

    class Secrets:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            return {"SecretString": next(values)}

    admin = AdminKey(Secrets(), "admin", clock=lambda: now[0])
    assert admin.current() == "first-admin-key"
    now[0] = ADMIN_KEY_MAX_AGE_S - 1
    assert admin.current() == "first-admin-key"  # cached: one Secrets Manager call per container per max age
    now[0] = ADMIN_KEY_MAX_AGE_S
    assert admin.current() == "second-admin-key"  # rotated without a cold start

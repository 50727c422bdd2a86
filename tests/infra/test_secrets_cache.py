"""Provider secrets are read once per container and `max_age`, not once per dispatch, webhook or cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from postal.store.secrets import SecretStore


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-central-1")


def count_reads(client: Any) -> list[str]:
    """The SecretId of every GetSecretValue the client sends (botocore event hook)."""
    reads: list[str] = []
    client.meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue", lambda params, **_: reads.append(params["SecretId"])
    )
    return reads


def test_a_second_read_in_the_same_container_does_not_call_secrets_manager(secretsmanager: Any) -> None:
    store = SecretStore(secretsmanager, "stack/orgs/")
    ref = store.put_integration_secret("org_1", {"provider": "sandbox", "credentials": {"api_key": "k1"}})
    reads = count_reads(secretsmanager)

    first = store.get(ref)
    second = store.get(ref)

    assert first == second == {"provider": "sandbox", "credentials": {"api_key": "k1"}}
    assert reads == [ref.partition("#")[0]]


def test_a_secret_rotated_outside_the_service_is_read_again_after_max_age(secretsmanager: Any) -> None:
    store = SecretStore(secretsmanager, "stack/orgs/", max_age_s=1)
    ref = store.put_integration_secret("org_1", {"credentials": {"api_key": "old"}})
    assert store.get(ref)["credentials"]["api_key"] == "old"
    secret_id = ref.partition("#")[0]
    secretsmanager.put_secret_value(SecretId=secret_id, SecretString='{"credentials": {"api_key": "rotated"}}')
    reads = count_reads(secretsmanager)

    assert store.get(ref)["credentials"]["api_key"] == "old"  # still inside max_age: the cached value
    time.sleep(1.1)
    assert store.get(ref)["credentials"]["api_key"] == "rotated"
    assert reads == [secret_id]


def test_a_reconnect_is_read_at_once_by_a_container_that_cached_the_old_connection(secretsmanager: Any) -> None:
    writer = SecretStore(secretsmanager, "stack/orgs/")  # integration_api's container
    reader = SecretStore(secretsmanager, "stack/orgs/")  # a dispatch container, long max_age
    old_ref = writer.put_integration_secret("org_1", {"provider": "pingen"})
    assert reader.get(old_ref) == {"provider": "pingen"}

    new_ref = writer.put_integration_secret("org_1", {"provider": "postgrid"})

    assert new_ref != old_ref
    assert new_ref.partition("#")[0] == old_ref.partition("#")[0]  # the same secret, a new version
    assert reader.get(new_ref) == {"provider": "postgrid"}


def test_a_reference_without_a_version_is_still_read(secretsmanager: Any) -> None:
    """Integrations connected before references carried a version hold the bare ARN."""
    arn = secretsmanager.create_secret(Name="stack/orgs/org_1/postal", SecretString='{"provider": "sandbox"}')["ARN"]
    store = SecretStore(secretsmanager, "stack/orgs/")
    reads = count_reads(secretsmanager)

    assert store.get(arn) == store.get(arn) == {"provider": "sandbox"}
    assert reads == [arn]

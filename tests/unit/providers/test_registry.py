"""Registry: credential validation per provider and adapter construction from configuration."""

from __future__ import annotations

import httpx
import pytest

from postal.errors import ValidationFailed
from postal.providers.generic import GenericProvider
from postal.providers.mysendingbox import MySendingBoxProvider
from postal.providers.pingen import STAGING_API, PingenProvider
from postal.providers.postgrid import PostGridProvider
from postal.providers.registry import ProviderConfig, build_provider, validate_credentials
from postal.providers.sandbox import SandboxProvider

PINGEN = {"client_id": "c", "client_secret": "s", "organisation_id": "o"}


@pytest.mark.parametrize(
    ("name", "credentials", "cls"),
    [
        ("pingen", PINGEN, PingenProvider),
        ("postgrid", {"api_key": "test_abc"}, PostGridProvider),
        ("mysendingbox", {"api_key": "test_abc"}, MySendingBoxProvider),
        ("generic", {"endpoint_url": "https://print.example.com/api", "secret": "x" * 24}, GenericProvider),
        ("sandbox", {}, SandboxProvider),
    ],
)
def test_build_provider(name: str, credentials: dict[str, str], cls: type) -> None:
    provider = build_provider(name, credentials, ProviderConfig(), http=httpx.Client())
    assert isinstance(provider, cls)
    assert provider.name == name


def test_pingen_staging_from_credentials_or_config() -> None:
    staged = build_provider("pingen", {**PINGEN, "staging": "true"}, ProviderConfig(), http=httpx.Client())
    forced = build_provider("pingen", PINGEN, ProviderConfig(pingen_force_staging=True), http=httpx.Client())
    live = build_provider("pingen", PINGEN, ProviderConfig(), http=httpx.Client())
    assert isinstance(staged, PingenProvider)
    assert isinstance(forced, PingenProvider)
    assert isinstance(live, PingenProvider)
    assert staged._api == forced._api == STAGING_API
    assert live._api == "https://api.pingen.com"


@pytest.mark.parametrize(
    ("name", "credentials", "fields"),
    [
        ("pingen", {"client_id": "c"}, {"client_secret", "organisation_id"}),
        ("postgrid", {"api_key": "sk_123"}, {"api_key"}),
        ("mysendingbox", {}, {"api_key"}),
        ("generic", {"endpoint_url": "http://plain.example.com", "secret": "hush-hush"}, {"endpoint_url", "secret"}),
        ("sandbox", {"unexpected": "x"}, {"unexpected"}),
        ("lob", {}, {"provider"}),
    ],
)
def test_invalid_credentials_name_the_fields(name: str, credentials: dict[str, str], fields: set[str]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_credentials(name, credentials)
    assert {d["field"] for d in exc.value.details} == fields
    # submitted secrets are never echoed back (the details carry pydantic's error type, e.g. string_too_short)
    assert not any(secret in str(exc.value.details) for secret in ("hush-hush", "sk_123"))


def test_valid_credentials_are_normalised() -> None:
    assert validate_credentials("pingen", {**PINGEN, "staging": "true"})["staging"] is True

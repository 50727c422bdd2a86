"""Build the provider adapter an org is connected with: credentials from Secrets Manager, URLs from settings.

The integration item only holds `secret_ref`; the secret holds `{provider, credentials, webhook_signing_key}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from postal.errors import Conflict, NotFound
from postal.models import ProviderName
from postal.ports import SecretReader

if TYPE_CHECKING:
    import httpx

    from postal.config import Config
    from postal.providers.base import PostalProvider
    from postal.providers.registry import ProviderConfig


class IntegrationReader(Protocol):
    def secret_ref(self, org_id: str, *, consistent: bool = True) -> str | None: ...

    def secret_refs(self, org_id: str) -> list[str]: ...


def webhook_url(settings: Config, provider: str, org_id: str) -> str | None:
    """`{PUBLIC_BASE_URL}/v1/webhooks/{provider}/{org_id}`; None when the service has no public URL."""
    base = settings.public_base_url.rstrip("/")
    return f"{base}/v1/webhooks/{provider}/{org_id}" if base else None


def _not_live(url: str, live: str, staging: str) -> str:
    return staging if url.rstrip("/") == live else url


def provider_config(settings: Config, provider: str, org_id: str, signing_key: str | None) -> ProviderConfig:
    """Deployment URLs for every adapter plus this org's webhook URL and signing key."""
    # Imported here, not at module level: every provider adapter and httpx load only when a provider is built.
    from postal.providers import pingen, sandbox
    from postal.providers.registry import ProviderConfig

    prod = settings.stage == "prod"
    return ProviderConfig(
        pingen_api_url=settings.pingen_api_url,
        pingen_token_url=settings.pingen_identity_url,
        # Only production may reach live Pingen; every other stage is forced onto staging (the configured URLs,
        # staging by default, unless they name live Pingen).
        pingen_force_staging=not prod,
        pingen_staging_api_url=_not_live(settings.pingen_api_url, pingen.LIVE_API, pingen.STAGING_API),
        pingen_staging_token_url=_not_live(settings.pingen_identity_url, pingen.LIVE_IDENTITY, pingen.STAGING_IDENTITY),
        postgrid_url=settings.postgrid_api_url,
        mysendingbox_url=settings.mysendingbox_api_url,
        sandbox_url=settings.sandbox_url or sandbox.DEFAULT_URL,
        webhook_signing_key=SecretStr(signing_key) if signing_key else None,
        webhook_url=webhook_url(settings, provider, org_id),
    )


class ProviderFactory:
    """Adapters per org. `http` is the container's shared httpx client (tests pass a MockTransport client)."""

    def __init__(self, integrations: IntegrationReader, secrets: SecretReader, settings: Config, http: httpx.Client):
        self.integrations = integrations
        self.secrets = secrets
        self.settings = settings
        self.http = http

    def secret(self, org_id: str) -> dict[str, Any]:
        """The org's provider secret; `NotFound` when the org never connected."""
        ref = self.integrations.secret_ref(org_id)
        if not ref:
            raise NotFound(f"organisation '{org_id}' has no provider connection")
        return self.secrets.get(ref)

    def from_secret(self, org_id: str, secret: dict[str, Any]) -> PostalProvider:
        provider = str(secret.get("provider") or "")
        if provider not in set(ProviderName):
            raise Conflict(
                "the stored provider connection is unusable",
                code="integration_broken",
                fix="disconnect and connect the postal integration again",
            )
        from postal.providers.registry import build_provider

        config = provider_config(self.settings, provider, org_id, secret.get("webhook_signing_key"))
        return build_provider(provider, dict(secret.get("credentials") or {}), config, self.http)

    def for_org(self, org_id: str) -> PostalProvider:
        """The adapter of the org's (current or last) provider connection."""
        return self.from_secret(org_id, self.secret(org_id))

    def for_ref(self, org_id: str, secret_ref: str | None) -> PostalProvider:
        """The adapter of the connection a letter was sent through (its own secret), else the org's current one."""
        return self.from_secret(org_id, self.secrets.get(secret_ref)) if secret_ref else self.for_org(org_id)

    def webhook_candidates(self, org_id: str, provider: str) -> Iterator[PostalProvider]:
        """Adapters of every connection of the org to `provider`, the current one first, read lazily (the caller
        stops at the first that verifies): a callback for a letter sent before a disconnect or a switch of provider
        still verifies with the credentials it was sent with."""
        for ref in self.integrations.secret_refs(org_id):
            secret = self.secrets.get(ref)
            if secret.get("provider") == provider:
                yield self.from_secret(org_id, secret)

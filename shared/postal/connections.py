"""Build the provider adapter an org is connected with: credentials from Secrets Manager, URLs from settings.

The integration item only holds `secret_ref`; the secret holds `{provider, credentials, webhook_signing_key}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from postal.errors import Conflict, NotFound
from postal.models import ProviderName

if TYPE_CHECKING:
    import httpx

    from postal.providers.base import PostalProvider
    from postal.providers.registry import ProviderConfig
    from postal.settings import Settings


class SecretReader(Protocol):
    def get(self, ref: str) -> dict[str, Any]: ...


class IntegrationReader(Protocol):
    def secret_ref(self, org_id: str, *, consistent: bool = True) -> str | None: ...


def webhook_url(settings: Settings, provider: str, org_id: str) -> str | None:
    """`{PUBLIC_BASE_URL}/v1/webhooks/{provider}/{org_id}`; None when the service has no public URL."""
    base = settings.public_base_url.rstrip("/")
    return f"{base}/v1/webhooks/{provider}/{org_id}" if base else None


def provider_config(settings: Settings, provider: str, org_id: str, signing_key: str | None) -> ProviderConfig:
    """Deployment URLs for every adapter plus this org's webhook URL and signing key."""
    # Imported here, not at module level: every provider adapter and httpx load only when a provider is built.
    from postal.providers import sandbox
    from postal.providers.registry import ProviderConfig

    return ProviderConfig(
        pingen_api_url=settings.pingen_api_url,
        pingen_token_url=settings.pingen_identity_url,
        # Only production may reach live Pingen; every other stage is forced onto staging.
        pingen_force_staging=settings.stage != "prod",
        postgrid_url=settings.postgrid_api_url,
        mysendingbox_url=settings.mysendingbox_api_url,
        sandbox_url=settings.sandbox_url or sandbox.DEFAULT_URL,
        webhook_signing_key=SecretStr(signing_key) if signing_key else None,
        webhook_url=webhook_url(settings, provider, org_id),
    )


class ProviderFactory:
    """Adapters per org. `http` is the container's shared httpx client (tests pass a MockTransport client)."""

    def __init__(self, records: IntegrationReader, secrets: SecretReader, settings: Settings, http: httpx.Client):
        self.records = records
        self.secrets = secrets
        self.settings = settings
        self.http = http

    def secret(self, org_id: str) -> dict[str, Any]:
        """The org's provider secret; `NotFound` when the org never connected."""
        ref = self.records.secret_ref(org_id)
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

"""Build the adapter for an org's provider connection, and validate the credentials it is connected with."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from postal.api.errors import validation_details
from postal.errors import ValidationFailed
from postal.models import ProviderName
from postal.providers import generic, mysendingbox, pingen, postgrid, sandbox
from postal.providers.base import PostalProvider
from postal.providers.http import RetryPolicy, build_client


class ProviderConfig(BaseModel):
    """Deployment configuration: provider base URLs and our webhook endpoint/key (not per-org credentials)."""

    pingen_api_url: str = pingen.LIVE_API
    pingen_token_url: str = Field(
        default=pingen.LIVE_IDENTITY,
        description="Host of /auth/access-tokens "
        "(identity or api host: unconfirmed which is canonical, providers.md §1.1)",
    )
    pingen_staging_api_url: str = pingen.STAGING_API
    pingen_staging_token_url: str = pingen.STAGING_IDENTITY
    pingen_force_staging: bool = Field(default=False, description="Non-production stages: never reach live Pingen")
    postgrid_url: str = postgrid.BASE_URL
    mysendingbox_url: str = mysendingbox.BASE_URL
    sandbox_url: str = sandbox.DEFAULT_URL
    webhook_signing_key: SecretStr | None = Field(default=None, description="Key Pingen/PostGrid/sandbox sign with")
    webhook_url: str | None = Field(default=None, description="The org's webhook URL handed to the sandbox")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PingenCredentials(_Credentials):
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    organisation_id: str = Field(min_length=1)
    staging: bool = False


class PostGridCredentials(_Credentials):
    api_key: str = Field(min_length=1)

    @field_validator("api_key")
    @classmethod
    def _mode_prefix(cls, value: str) -> str:
        if not value.startswith(("test_", "live_")):
            raise ValueError("a PostGrid Print & Mail key starts with test_ or live_")
        return value


class MySendingBoxCredentials(_Credentials):
    api_key: str = Field(min_length=1)


class GenericCredentials(_Credentials):
    endpoint_url: str = Field(pattern=r"^https://[^\s/]+", max_length=500)
    secret: str = Field(min_length=20, description="Shared HMAC secret for Postal-Signature")


class SandboxCredentials(_Credentials):
    pass


CREDENTIALS: dict[str, type[_Credentials]] = {
    ProviderName.PINGEN: PingenCredentials,
    ProviderName.POSTGRID: PostGridCredentials,
    ProviderName.MYSENDINGBOX: MySendingBoxCredentials,
    ProviderName.GENERIC: GenericCredentials,
    ProviderName.SANDBOX: SandboxCredentials,
}


def validate_credentials(name: str, credentials: dict[str, str]) -> dict[str, Any]:
    """The credentials normalised for `name`, or `ValidationFailed` whose details name each bad field."""
    model = CREDENTIALS.get(name)
    if model is None:
        raise ValidationFailed(
            f"Unknown provider {name!r}.", details=[{"field": "provider", "message": f"one of {sorted(CREDENTIALS)}"}]
        )
    try:
        return model.model_validate(credentials).model_dump()
    except ValidationError as exc:
        details = validation_details(exc.errors(include_input=False), root="credentials")
        fields = ", ".join(d["field"] for d in details)
        raise ValidationFailed(
            f"Invalid {name} credentials: {fields}.",
            details=details,
            fix="Correct the named credential fields and connect again.",
        ) from None


def build_provider(
    name: str, credentials: dict[str, str], config: ProviderConfig, http: httpx.Client | None = None
) -> PostalProvider:
    """The adapter for `name`, after validating `credentials`; `http` defaults to a new shared-policy client."""
    creds = validate_credentials(name, credentials)
    client = http or build_client()
    signing_key = config.webhook_signing_key.get_secret_value() if config.webhook_signing_key else None
    if name == ProviderName.PINGEN:
        staging = creds["staging"] or config.pingen_force_staging
        return pingen.PingenProvider(
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
            organisation_id=creds["organisation_id"],
            http=client,
            api_url=config.pingen_staging_api_url if staging else config.pingen_api_url,
            token_url=config.pingen_staging_token_url if staging else config.pingen_token_url,
            signing_key=signing_key,
            policy=config.retry,
        )
    if name == ProviderName.POSTGRID:
        return postgrid.PostGridProvider(
            api_key=creds["api_key"],
            http=client,
            base_url=config.postgrid_url,
            webhook_secret=signing_key,
            policy=config.retry,
        )
    if name == ProviderName.MYSENDINGBOX:
        return mysendingbox.MySendingBoxProvider(
            api_key=creds["api_key"],
            http=client,
            base_url=config.mysendingbox_url,
            policy=config.retry,
            webhook_token=signing_key,
        )
    if name == ProviderName.GENERIC:
        return generic.GenericProvider(
            endpoint_url=creds["endpoint_url"], secret=creds["secret"], http=client, policy=config.retry
        )
    return sandbox.SandboxProvider(
        http=client,
        base_url=config.sandbox_url,
        webhook_url=config.webhook_url,
        signing_key=signing_key,
        policy=config.retry,
    )

"""Service settings: environment variables validated once at cold start. Logic never reads `os.environ`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Everything a function needs from its environment (template.yaml `Globals.Function.Environment`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = Field(default="dev", alias="STAGE")
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    documents_bucket: str = Field(alias="DOCUMENTS_BUCKET", min_length=1)
    dispatch_queue_url: str = Field(alias="DISPATCH_QUEUE_URL", min_length=1)
    cascade_queue_url: str = Field(alias="CASCADE_QUEUE_URL", min_length=1)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    secrets_prefix: str = Field(alias="SECRETS_PREFIX", min_length=1)
    admin_key_secret_id: str = Field(alias="ADMIN_KEY_SECRET_ID", min_length=1)
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    pingen_api_url: str = Field(default="https://api-staging.pingen.com", alias="PINGEN_API_URL")
    pingen_identity_url: str = Field(default="https://identity-staging.pingen.com", alias="PINGEN_IDENTITY_URL")
    postgrid_api_url: str = Field(default="https://api.postgrid.com", alias="POSTGRID_API_URL")
    mysendingbox_api_url: str = Field(default="https://api.mysendingbox.fr", alias="MYSENDINGBOX_API_URL")
    sandbox_url: str = Field(default="", alias="SANDBOX_URL")
    cascade_page_size: int = Field(default=2000, alias="CASCADE_PAGE_SIZE", ge=1, le=5000)
    # How long the cascade waits, once it finds nothing left, before it looks again and finishes: longer than a
    # GSI takes to show a write made just before the disconnect (SQS allows up to 900).
    cascade_settle_seconds: int = Field(default=10, alias="CASCADE_SETTLE_SECONDS", ge=0, le=900)
    presign_seconds: int = Field(default=300, alias="PRESIGN_SECONDS", ge=30, le=3600)
    # Letter reconciliation: hours a letter may stay in one non-final status before the provider is asked, per
    # provider ("pingen=48,postgrid=72"); providers not named keep reconcile.DEFAULT_AFTER_HOURS.
    reconcile_after_hours: str = Field(default="", alias="RECONCILE_AFTER_HOURS", max_length=200)
    reconcile_batch: int = Field(default=200, alias="RECONCILE_BATCH", ge=1, le=1000)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls.model_validate(dict(env))


@cache
def get_settings() -> Settings:
    """The settings of this container, validated on first use (cold start)."""
    return Settings.from_env(os.environ)

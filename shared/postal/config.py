"""The deployment's configuration: environment variables validated once at cold start. Logic never reads `os.environ`.

A frozen dataclass, not a pydantic model: the authorizer imports nothing else that needs pydantic, and pydantic's
import with a first model costs it ~0.5x `import boto3` at cold start (issue 15).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any


class ConfigError(ValueError):
    """A variable is missing or out of range; the message names every one."""


def _var(
    alias: str,
    default: Any = dataclasses.MISSING,
    *,
    min_length: int | None = None,
    max_length: int | None = None,
    ge: int | None = None,
    le: int | None = None,
) -> Any:
    rules = {"alias": alias, "min_length": min_length, "max_length": max_length, "ge": ge, "le": le}
    return dataclasses.field(default=default, metadata=rules)


@dataclass(frozen=True)
class Config:
    """Everything a function needs from its environment (template.yaml `Globals.Function.Environment`)."""

    table_name: str = _var("TABLE_NAME", min_length=1)
    idempotency_table_name: str = _var("IDEMPOTENCY_TABLE_NAME", min_length=1)
    documents_bucket: str = _var("DOCUMENTS_BUCKET", min_length=1)
    dispatch_queue_url: str = _var("DISPATCH_QUEUE_URL", min_length=1)
    cascade_queue_url: str = _var("CASCADE_QUEUE_URL", min_length=1)
    event_bus_name: str = _var("EVENT_BUS_NAME", min_length=1)
    secrets_prefix: str = _var("SECRETS_PREFIX", min_length=1)
    admin_key_secret_id: str = _var("ADMIN_KEY_SECRET_ID", min_length=1)
    # The nightly fan-out's pages (collection.fanout); only the nightly functions send to it.
    collection_queue_url: str = _var("COLLECTION_QUEUE_URL", "")
    stage: str = _var("STAGE", "dev")
    public_base_url: str = _var("PUBLIC_BASE_URL", "")
    pingen_api_url: str = _var("PINGEN_API_URL", "https://api-staging.pingen.com")
    pingen_identity_url: str = _var("PINGEN_IDENTITY_URL", "https://identity-staging.pingen.com")
    postgrid_api_url: str = _var("POSTGRID_API_URL", "https://api.postgrid.com")
    mysendingbox_api_url: str = _var("MYSENDINGBOX_API_URL", "https://api.mysendingbox.fr")
    sandbox_url: str = _var("SANDBOX_URL", "")
    cascade_page_size: int = _var("CASCADE_PAGE_SIZE", 2000, ge=1, le=5000)
    # How long the cascade waits, once it finds nothing left, before it looks again and finishes: longer than a
    # GSI takes to show a write made just before the disconnect (SQS allows up to 900).
    cascade_settle_seconds: int = _var("CASCADE_SETTLE_SECONDS", 10, ge=0, le=900)
    # Due invoices per page of the nightly fan-out: a page (≈45 ms of CPU and ~5 requests a letter) must end well
    # inside the function's timeout and the queue's visibility timeout.
    collection_page_size: int = _var("COLLECTION_PAGE_SIZE", 100, ge=1, le=1000)
    presign_seconds: int = _var("PRESIGN_SECONDS", 300, ge=30, le=3600)
    # Letter reconciliation: hours a letter may stay in one non-final status before the provider is asked, per
    # provider ("pingen=48,postgrid=72"); providers not named keep reconcile.DEFAULT_AFTER_HOURS.
    reconcile_after_hours: str = _var("RECONCILE_AFTER_HOURS", "", max_length=200)
    reconcile_batch: int = _var("RECONCILE_BATCH", 200, ge=1, le=1000)

    @classmethod
    def aliases(cls) -> set[str]:
        """The environment variables read."""
        return {f.metadata["alias"] for f in dataclasses.fields(cls)}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        """Validated settings from `env` (other variables ignored); `ConfigError` names every bad variable."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        for f in dataclasses.fields(cls):
            alias = f.metadata["alias"]
            if alias not in env:
                if f.default is dataclasses.MISSING:
                    errors.append(f"{alias}: missing")
                continue
            try:
                values[f.name] = _checked(env[alias], int if f.type == "int" else str, f.metadata)
            except ValueError as exc:
                errors.append(f"{alias}: {exc}")
        if errors:
            raise ConfigError("invalid settings: " + "; ".join(errors))
        return cls(**values)


def _checked(raw: str, kind: type, rules: Mapping[str, Any]) -> str | int:
    if kind is int:
        number = int(raw.strip())  # ValueError: "invalid literal for int()"
        if rules["ge"] is not None and number < rules["ge"]:
            raise ValueError(f"must be >= {rules['ge']}, got {number}")
        if rules["le"] is not None and number > rules["le"]:
            raise ValueError(f"must be <= {rules['le']}, got {number}")
        return number
    if rules["min_length"] is not None and len(raw) < rules["min_length"]:
        raise ValueError(f"must have at least {rules['min_length']} character(s)")
    if rules["max_length"] is not None and len(raw) > rules["max_length"]:
        raise ValueError(f"must have at most {rules['max_length']} characters")
    return raw


@cache
def get_config() -> Config:
    """The settings of this container, validated on first use (cold start)."""
    return Config.from_env(os.environ)

"""Pingen API v2 adapter (providers.md §1): OAuth2 client credentials, JSON:API, presigned upload, webhooks.

Exactly-once: every POST/PATCH carries `Idempotency-Key: <our letter_id>` (§1.7), so a retry after a lost
response replays the original letter instead of creating a second one. Pingen has no search by our reference,
so `find_by_reference` returns None and `submit` itself is the safe lookup-or-create.

The package: `client` (the adapter), `events` (statuses, issues, webhooks), `tokens`, `recipient` (registered mail).
"""

from __future__ import annotations

from postal.providers.pingen.client import (
    JSONAPI,
    LIVE_API,
    LIVE_IDENTITY,
    STAGING_API,
    STAGING_IDENTITY,
    PingenProvider,
)
from postal.providers.pingen.events import (
    ISSUE_MAP,
    STATUS_MAP,
    JsonApiWebhook,
    map_webhook,
    parse_jsonapi_webhook,
    read_signed_webhook,
    verify_hex_signature,
)
from postal.providers.pingen.recipient import DELIVERY_PRODUCT, registered_recipient
from postal.providers.pingen.tokens import TokenCache

__all__ = [
    "DELIVERY_PRODUCT",
    "ISSUE_MAP",
    "JSONAPI",
    "LIVE_API",
    "LIVE_IDENTITY",
    "STAGING_API",
    "STAGING_IDENTITY",
    "STATUS_MAP",
    "JsonApiWebhook",
    "PingenProvider",
    "TokenCache",
    "map_webhook",
    "parse_jsonapi_webhook",
    "read_signed_webhook",
    "registered_recipient",
    "verify_hex_signature",
]

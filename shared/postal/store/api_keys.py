"""API key (by its hash) -> its org: all the authorizer reads, without the domain models.

Kept apart from `Records` so that the authorizer's cold start imports no pydantic (issue 15); `Records.org_for_key`
is this same lookup.
"""

from __future__ import annotations

from typing import Any

from postal.store import keys
from postal.store.dynamo import deserialize, serialize


class ApiKeys:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def org_for_key(self, key_hash: str, *, consistent: bool = False) -> str | None:
        """The org an API key (by its hash) belongs to; None for an unknown or revoked key."""
        key = serialize({"PK": keys.api_key_pk(key_hash), "SK": keys.API_KEY_SK})
        raw = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=consistent).get("Item")
        return str(deserialize(raw)["org_id"]) if raw else None

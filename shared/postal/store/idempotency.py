"""`Idempotency-Key` records in the IdempotencyTable: one conditional put per (scope, org, key), TTL `expiration`."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.ports import IdempotencyHit
from postal.store.dynamo import deserialize, is_conditional_failure, serialize, translate


class IdempotencyKeys:
    def __init__(self, client: Any, table: str):
        self.client = client
        self.table = table

    def reserve(
        self, scope: str, org_id: str, key: str, request_hash: str, resource_id: str, *, expires_at: int
    ) -> tuple[IdempotencyHit, str]:
        """Reserve `key` for `resource_id`. A replay gets the resource id reserved first, and whether its request
        body was the same (by hash)."""
        record_id = f"{scope}#{org_id}#{key}"
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(
                    {
                        "id": record_id,
                        "request_hash": request_hash,
                        "resource_id": resource_id,
                        "expiration": expires_at,
                    }
                ),
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc
        else:
            return IdempotencyHit.NEW, resource_id
        resp = self.client.get_item(TableName=self.table, Key=serialize({"id": record_id}), ConsistentRead=True)
        item = deserialize(resp.get("Item") or {})
        if item.get("request_hash") != request_hash:
            return IdempotencyHit.DIFFERENT_BODY, str(item.get("resource_id", ""))
        return IdempotencyHit.SAME, str(item["resource_id"])

    def release(self, scope: str, org_id: str, key: str, request_hash: str) -> None:
        """Forget a reservation, only while it still belongs to this request body (never another's)."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=serialize({"id": f"{scope}#{org_id}#{key}"}),
                ConditionExpression="request_hash = :h",
                ExpressionAttributeValues=serialize({":h": request_hash}),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

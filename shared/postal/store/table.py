"""The one table's generic access: get, put, conditional transactions, pages with cursors, counts, job ticks.

Every repository (`postal.store.<aggregate>`) is a `Table` over the same DynamoDB table; the key scheme is
`postal.store.keys`. Writes that depend on the integration's state are transactions with a condition on the
integration item, so a disconnect and a write that sets `post` can never both win.
"""

from __future__ import annotations

import itertools
from typing import Any

from botocore.exceptions import ClientError

from postal.errors import NotConnected
from postal.models import (
    IntegrationStatus,
)
from postal.store import keys
from postal.store.dynamo import (
    Item,
    decode_cursor,
    deserialize,
    encode_cursor,
    is_conditional_failure,
    serialize,
    serialize_value,
    translate,
)

TRANSACTION_LIMIT = 100  # items in one TransactWriteItems


def dump(model: Any) -> dict[str, Any]:
    """A model as stored: JSON types, no None."""
    return model.model_dump(mode="json", exclude_none=True)


class Table:
    """DynamoDB access shared by the repositories. `client` is a boto3 DynamoDB client (real AWS or moto)."""

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> Item | None:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize({"PK": pk, "SK": sk}), ConsistentRead=consistent
        )
        raw = resp.get("Item")
        return deserialize(raw) if raw else None

    def _put(self, item: Item, condition: str | None = None, names: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": serialize(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            self.client.put_item(**kwargs)
        except ClientError as exc:
            raise translate(exc) from exc

    def _integration_condition(self, org_id: str) -> dict[str, Any]:
        """A transaction item that holds only while the org's postal integration is connected."""
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.INTEGRATION_SK}),
                "ConditionExpression": "#s = :connected",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":connected": serialize_value(IntegrationStatus.CONNECTED.value)},
            }
        }

    def _put_requiring_connected(self, org_id: str, item: Item, what: str = "post") -> None:
        try:
            self.client.transact_write_items(
                TransactItems=[
                    self._integration_condition(org_id),
                    {"Put": {"TableName": self.table, "Item": serialize(item)}},
                ]
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotConnected(
                    f"{what} needs the postal integration to be connected",
                    fix="connect the postal integration first (POST .../integrations/postal/connect)",
                ) from exc
            raise translate(exc) from exc

    def _query_page(
        self, *, index: str | None, pk_name: str, pk: str, limit: int, cursor: str | None, sk_prefix: str | None = None
    ) -> tuple[list[Item], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk" + (" AND begins_with(#sk, :prefix)" if sk_prefix else ""),
            "ExpressionAttributeNames": {"#pk": pk_name, **({"#sk": "SK"} if sk_prefix else {})},
            "ExpressionAttributeValues": serialize({":pk": pk, **({":prefix": sk_prefix} if sk_prefix else {})}),
            "Limit": limit,
        }
        if index:
            kwargs["IndexName"] = index
        index_keys = [pk_name, pk_name.removesuffix("PK") + "SK"] if index else []
        start = decode_cursor(cursor, expected_pk=pk, key_names=["PK", "SK", *index_keys])
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self.client.query(**kwargs)
        return [deserialize(i) for i in resp.get("Items", [])], encode_cursor(resp.get("LastEvaluatedKey"))

    def count(self, *, index: str, pk_name: str, pk: str) -> int:
        """Number of items in one GSI partition (paged COUNT query; used for impact reports and job totals)."""
        total = 0
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            IndexName=index,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": pk_name},
            ExpressionAttributeValues=serialize({":pk": pk}),
            Select="COUNT",
        ):
            total += page.get("Count", 0)
        return total

    def _job_tick(self, org_id: str, job_id: str, counter: str, n: int = 1) -> dict[str, Any]:
        """A transaction item counting `n` changes on a job: a change and its count commit together."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                "UpdateExpression": "ADD #d :n, counts.#c :n",
                "ExpressionAttributeNames": {"#d": "done", "#c": counter},
                "ExpressionAttributeValues": serialize({":n": n}),
            }
        }

    def _transact_counted(self, org_id: str, job_id: str, counter: str, changes: list[list[dict[str, Any]]]) -> int:
        """Commit many conditional changes with their count on the job; the number committed (see `_committed`)."""
        return len(self._committed(org_id, job_id, counter, changes))

    def _committed(self, org_id: str, job_id: str, counter: str, changes: list[list[dict[str, Any]]]) -> list[int]:
        """Commit many conditional changes with their count on the job, as few transactions as the limit allows.

        Each change is a group of transaction items whose first is conditional (the others go with it). A change
        whose condition fails is dropped and the rest retried, so the job counts exactly the changes that
        committed, each once, however often a page runs. Returns the positions of those in `changes`.
        """
        committed: list[int] = []
        chunk: list[int] = []
        size = 1  # the job tick
        for position, change in enumerate(changes):
            if size + len(change) > TRANSACTION_LIMIT:
                committed += self._commit_counted(org_id, job_id, counter, [changes[i] for i in chunk], chunk)
                chunk, size = [], 1
            chunk.append(position)
            size += len(change)
        if chunk:
            committed += self._commit_counted(org_id, job_id, counter, [changes[i] for i in chunk], chunk)
        return committed

    def _commit_counted(
        self,
        org_id: str,
        job_id: str,
        counter: str,
        changes: list[list[dict[str, Any]]],
        positions: list[int] | None = None,
    ) -> list[int]:
        pending = list(zip(positions if positions is not None else range(len(changes)), changes, strict=True))
        while pending:  # each round drops at least one change, so it ends
            items = [item for _, change in pending for item in change]
            try:
                self.client.transact_write_items(
                    TransactItems=[*items, self._job_tick(org_id, job_id, counter, len(pending))]
                )
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise translate(exc) from exc
                reasons = exc.response["CancellationReasons"]
                starts = itertools.accumulate((len(change) for _, change in pending), initial=0)
                pending = [
                    entry
                    for entry, start in zip(pending, starts, strict=False)
                    if reasons[start].get("Code") != "ConditionalCheckFailed"
                ]
                continue
            return [position for position, _ in pending]
        return []

    def _put_once(self, item: Item, *, expires_at: int | None = None) -> bool:
        """The one "once" primitive: write `item` only if nothing has its key yet; True for the first writer, False
        for every later one (a duplicate delivery, a retry, a concurrent run). `expires_at` (epoch seconds) is the
        table's one TTL attribute, for marks that only need to outlive the retries they guard against."""
        if expires_at is not None:
            item = {**item, keys.TTL_ATTRIBUTE: expires_at}
        try:
            self.client.put_item(
                TableName=self.table, Item=serialize(item), ConditionExpression="attribute_not_exists(PK)"
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    def _transact_if(self, items: list[dict[str, Any]]) -> bool:
        """Run a transaction whose first item is conditional; False (no change) when the condition fails."""
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table = table_name

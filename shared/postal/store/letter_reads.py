"""Reading letters: by id, their history, pages by status (GSI2), by customer (GSI1) or by time, by provider id.

Keys (docs/data-model.md): letter `ORG#{org}` / `LETTER#{id}`; history `LETTER#{id}#EVENT#{at}#{status}`;
GSI1 letters by customer; GSI2 `ORG#{org}#LETTERS#{status}` (the status partition moves with the status);
GSI3 `PROVIDER#{provider}#{provider_letter_id}` for webhooks.
"""

from __future__ import annotations

import builtins
from typing import Any

from postal.letters import Letter, LetterEvent
from postal.store import keys
from postal.store.dynamo import Item, decode_cursor, deserialize, encode_cursor, serialize
from postal.store.table import Table

LETTER_TYPE = "letter"
EVENT_TYPE = "letter_event"


def letter_key(org_id: str, letter_id: str) -> dict[str, Any]:
    return serialize({"PK": keys.org_pk(org_id), "SK": keys.letter_sk(letter_id)})


def _list_query(
    table: str,
    org_id: str,
    status: str | None,
    customer_id: str | None,
    created_from: str | None,
    created_to: str | None,
) -> tuple[dict[str, Any], list[str], str]:
    """The query of one page of letters (its kwargs, the key names of its cursor, its partition key)."""
    names = {"#pk": "PK", "#t": "item_type"}
    values: dict[str, Any] = {":type": LETTER_TYPE}
    kwargs: dict[str, Any] = {"TableName": table, "ScanIndexForward": False}
    key = "#pk = :pk"
    if status:
        names["#pk"], values[":pk"], kwargs["IndexName"] = "GSI2PK", keys.letters_by_status_gsi2(org_id, status), "GSI2"
    elif customer_id:
        names["#pk"], kwargs["IndexName"] = "GSI1PK", "GSI1"
        values[":pk"] = keys.letters_by_customer_gsi1(org_id, customer_id)
    else:
        values |= {":pk": keys.org_pk(org_id), ":prefix": "LETTER#"}
        names["#sk"] = "SK"
        key = "#pk = :pk AND begins_with(#sk, :prefix)"
    filters = ["#t = :type"]
    if created_from:
        names["#c"], values[":from"] = "created_at", created_from
        filters.append("#c >= :from")
    if created_to:
        names["#c"], values[":to"] = "created_at", created_to
        filters.append("#c < :to")
    kwargs.update(
        KeyConditionExpression=key,
        FilterExpression=" AND ".join(filters),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize(values),
    )
    index_keys = {"GSI2": ["GSI2PK", "GSI2SK"], "GSI1": ["GSI1PK", "GSI1SK"]}.get(str(kwargs.get("IndexName")), [])
    return kwargs, ["PK", "SK", *index_keys], str(values[":pk"])


class LetterReads(Table):
    """The letters' read side (every query on a key or a GSI)."""

    def get_raw(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Item | None:
        resp = self.client.get_item(TableName=self.table, Key=letter_key(org_id, letter_id), ConsistentRead=consistent)
        raw = resp.get("Item")
        return deserialize(raw) if raw else None

    def get(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Letter | None:
        item = self.get_raw(org_id, letter_id, consistent=consistent)
        return Letter.model_validate(item) if item else None

    def history(self, org_id: str, letter_id: str) -> list[LetterEvent]:
        """Every history entry of a letter, oldest first (the SK sorts by time)."""
        events: list[LetterEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": serialize(
                {":pk": keys.org_pk(org_id), ":prefix": f"{keys.letter_sk(letter_id)}#EVENT#"}
            ),
            "ConsistentRead": True,
        }
        while True:
            resp = self.client.query(**kwargs)
            events.extend(LetterEvent.model_validate(deserialize(i)) for i in resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return events
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def list(
        self,
        org_id: str,
        *,
        status: str | None,
        customer_id: str | None,
        created_from: str | None,
        created_to: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[builtins.list[Letter], str | None]:
        """One page of letters: by status (GSI2), by customer (GSI1), else the org's letters by id (time order)."""
        kwargs, key_names, pk = _list_query(self.table, org_id, status, customer_id, created_from, created_to)
        start = decode_cursor(cursor, expected_pk=pk, key_names=key_names)
        if start:
            kwargs["ExclusiveStartKey"] = start
        # The filter runs after Limit, and the org partition interleaves history items with letters: read on
        # until the page is full, then continue the next page right after its last letter.
        kwargs["Limit"] = max(limit * 4, 25)
        found: builtins.list[Item] = []
        while True:
            resp = self.client.query(**kwargs)
            for raw in resp.get("Items", []):
                found.append(deserialize(raw))
                if len(found) == limit:
                    last = {k: found[-1][k] for k in key_names}
                    return [Letter.model_validate(i) for i in found], encode_cursor(serialize(last))
            if not resp.get("LastEvaluatedKey"):
                return [Letter.model_validate(i) for i in found], None
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def stuck_in(self, org_id: str, status: str, *, since_before: str, limit: int) -> builtins.list[Letter]:
        """Up to `limit` letters that entered `status` before `since_before`, oldest first (GSI2, no scan)."""
        resp = self.client.query(
            TableName=self.table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK < :before",
            ExpressionAttributeValues=serialize(
                {":pk": keys.letters_by_status_gsi2(org_id, status), ":before": since_before}
            ),
            Limit=limit,
        )
        return [Letter.model_validate(deserialize(item)) for item in resp.get("Items", [])]

    def find_by_provider_id(self, org_id: str, provider: str, provider_letter_id: str) -> str | None:
        """Our letter id for a provider's letter id (GSI3), only within `org_id`."""
        resp = self.client.query(
            TableName=self.table,
            IndexName="GSI3",
            KeyConditionExpression="GSI3PK = :pk",
            ExpressionAttributeValues=serialize({":pk": keys.provider_letter_gsi3(provider, provider_letter_id)}),
        )
        for raw in resp.get("Items", []):
            item = deserialize(raw)
            if item.get("PK") == keys.org_pk(org_id):
                return str(item["GSI3SK"])
        return None

    def unsubmitted(self, org_id: str, status: str, limit: int) -> builtins.list[Letter]:
        """Up to `limit` letters still in `status` (created, rendered or queued), from their GSI2 status partition."""
        resp = self.client.query(
            TableName=self.table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues=serialize({":pk": keys.letters_by_status_gsi2(org_id, status)}),
            Limit=limit,
        )
        return [Letter.model_validate(deserialize(i)) for i in resp.get("Items", [])]

    def count_letters(self, org_id: str, status: str) -> int:
        return self.count(index="GSI2", pk_name="GSI2PK", pk=keys.letters_by_status_gsi2(org_id, status))

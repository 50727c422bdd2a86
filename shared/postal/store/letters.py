"""Letters DAL: one item per letter, one history item per event, every status change a conditional transaction.

Keys (docs/data-model.md): letter `ORG#{org}` / `LETTER#{id}`; history `LETTER#{id}#EVENT#{at}#{status}`;
GSI1 letters by customer; GSI2 `ORG#{org}#LETTERS#{status}` (the status partition moves with the status, which is
what the disconnect cascade's `Records.unsubmitted_letter_ids` / `count_letters` read); GSI3
`PROVIDER#{provider}#{provider_letter_id}` for webhooks.

A status change is `Update ... ConditionExpression: status IN (predecessors)` + `Put` of its history entry in one
transaction, so the state machine in `postal.letters` holds under any concurrency and no change lacks its entry.
"""

from __future__ import annotations

import builtins
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from postal.letters import Letter, LetterError, LetterEvent, predecessors
from postal.models import IntegrationStatus, LetterStatus
from postal.providers.base import ProviderErrorCode
from postal.store import keys
from postal.store.dynamo import (
    Item,
    decode_cursor,
    deserialize,
    encode_cursor,
    is_conditional_failure,
    serialize,
    translate,
)

LETTER_TYPE = "letter"
EVENT_TYPE = "letter_event"
CLAIM_ATTRS = ("claim_message", "claimed_at")


def event_sk(letter_id: str, at: str, status: str) -> str:
    return f"{keys.letter_sk(letter_id)}#EVENT#{at}#{status}"


def webhook_sk(provider: str, event_id: str) -> str:
    return f"WEBHOOK#{provider}#{event_id}"


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"
    INTEGRATION_CHANGED = "integration_changed"  # not connected any more, or another generation
    UNAVAILABLE = "unavailable"  # not queued any more, or claimed by another message


IDEMPOTENT_MISMATCH = "IdempotentParameterMismatchException"


class LetterStore:
    """DynamoDB access for letters. `client` is a boto3 DynamoDB client."""

    def __init__(self, client: Any, table: str):
        self.client = client
        self.table = table

    # ------------------------------------------------------------------ items
    def letter_item(self, letter: Letter) -> Item:
        """The stored item of `letter`, with the GSI keys that belong to its current state."""
        item: Item = {
            "PK": keys.org_pk(letter.org_id),
            "SK": keys.letter_sk(letter.letter_id),
            "item_type": LETTER_TYPE,
            **letter.model_dump(mode="json", exclude_none=True),
            "GSI2PK": keys.letters_by_status_gsi2(letter.org_id, letter.status.value),
            "GSI2SK": f"{letter.updated_at}#{letter.letter_id}",
        }
        if letter.customer_id:
            item["GSI1PK"] = keys.letters_by_customer_gsi1(letter.org_id, letter.customer_id)
            item["GSI1SK"] = f"{letter.created_at}#{letter.letter_id}"
        if letter.provider_letter_id:
            item["GSI3PK"] = keys.provider_letter_gsi3(letter.provider, letter.provider_letter_id)
            item["GSI3SK"] = letter.letter_id
        return item

    def _event_put(self, org_id: str, letter_id: str, event: LetterEvent) -> dict[str, Any]:
        item = {
            "PK": keys.org_pk(org_id),
            "SK": event_sk(letter_id, event.occurred_at, event.status),
            "item_type": EVENT_TYPE,
            "letter_id": letter_id,
            **event.model_dump(mode="json", exclude_none=True),
        }
        return {"Put": {"TableName": self.table, "Item": serialize(item)}}

    def _key(self, org_id: str, letter_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.org_pk(org_id), "SK": keys.letter_sk(letter_id)})

    def _transact(self, items: list[dict[str, Any]], request_token: str | None = None) -> bool:
        token = {"ClientRequestToken": request_token} if request_token else {}
        try:
            self.client.transact_write_items(TransactItems=items, **token)
        except ClientError as exc:
            # The same token with other parameters: a concurrent attempt of the same request wrote it first.
            if is_conditional_failure(exc) or exc.response.get("Error", {}).get("Code") == IDEMPOTENT_MISMATCH:
                return False
            raise translate(exc) from exc
        return True

    # ------------------------------------------------------------------ create / read
    def create(self, letter: Letter, events: list[LetterEvent], *, request_token: str | None = None) -> bool:
        """Write a new letter with its first history entries; False when the id exists already. `request_token`
        (from the request's Idempotency-Key) makes a retried call that already committed succeed again."""
        put = {
            "Put": {
                "TableName": self.table,
                "Item": serialize(self.letter_item(letter)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        return self._transact(
            [put, *(self._event_put(letter.org_id, letter.letter_id, e) for e in events)], request_token
        )

    def get_raw(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Item | None:
        resp = self.client.get_item(TableName=self.table, Key=self._key(org_id, letter_id), ConsistentRead=consistent)
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
    ) -> tuple[list[Letter], str | None]:
        """One page of letters: by status (GSI2), by customer (GSI1), else the org's letters by id (time order)."""
        names = {"#pk": "PK", "#t": "item_type"}
        values: dict[str, Any] = {":type": LETTER_TYPE}
        kwargs: dict[str, Any] = {"TableName": self.table, "Limit": limit, "ScanIndexForward": False}
        if status:
            names["#pk"] = "GSI2PK"
            values[":pk"] = keys.letters_by_status_gsi2(org_id, status)
            kwargs["IndexName"] = "GSI2"
            key = "#pk = :pk"
        elif customer_id:
            names["#pk"] = "GSI1PK"
            values[":pk"] = keys.letters_by_customer_gsi1(org_id, customer_id)
            kwargs["IndexName"] = "GSI1"
            key = "#pk = :pk"
        else:
            values[":pk"] = keys.org_pk(org_id)
            values[":prefix"] = "LETTER#"
            names["#sk"] = "SK"
            key = "#pk = :pk AND begins_with(#sk, :prefix)"
        filters = ["#t = :type"]
        if created_from:
            names["#c"] = "created_at"
            values[":from"] = created_from
            filters.append("#c >= :from")
        if created_to:
            names["#c"] = "created_at"
            values[":to"] = created_to
            filters.append("#c < :to")
        kwargs.update(
            KeyConditionExpression=key,
            FilterExpression=" AND ".join(filters),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
        )
        key_names = [
            "PK",
            "SK",
            *{"GSI2": ["GSI2PK", "GSI2SK"], "GSI1": ["GSI1PK", "GSI1SK"]}.get(str(kwargs.get("IndexName")), []),
        ]
        start = decode_cursor(cursor, expected_pk=str(values[":pk"]), key_names=key_names)
        if start:
            kwargs["ExclusiveStartKey"] = start
        # The filter runs after Limit, and the org partition interleaves history items with letters: read on
        # until the page is full, then continue the next page right after its last letter.
        kwargs["Limit"] = max(limit * 4, 25)
        found: list[Item] = []
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

    # ------------------------------------------------------------------ the state machine in DynamoDB
    def transition(
        self,
        org_id: str,
        letter_id: str,
        target: LetterStatus,
        event: LetterEvent,
        *,
        at: str,
        reason: str | None = None,
        error: LetterError | None = None,
        set_fields: dict[str, Any] | None = None,
        remove_fields: tuple[str, ...] = (),
        extra_condition: str | None = None,
        extra_values: dict[str, Any] | None = None,
    ) -> bool:
        """Move a letter to `target` if its status is a legal predecessor, with `event` as its history entry.

        Returns False (nothing written) when the condition does not hold; the caller decides whether the event
        still goes into the history (`record_history`).
        """
        preds = sorted(predecessors(target))
        values: dict[str, Any] = {f":p{i}": s.value for i, s in enumerate(preds)}
        condition = f"#s IN ({', '.join(values)})"
        if target is LetterStatus.UNDELIVERABLE:
            # The one exit from a final status: a return after an *estimated* delivery (providers.md §5.1).
            condition = f"({condition} OR (#s = :delivered AND delivery_estimated = :true))"
            values.update({":delivered": LetterStatus.DELIVERED.value, ":true": True})
        if extra_condition:
            condition = f"{condition} AND {extra_condition}"
            values.update(extra_values or {})
        sets = {
            "status": target.value,
            "updated_at": at,
            "GSI2PK": keys.letters_by_status_gsi2(org_id, target.value),
            "GSI2SK": f"{at}#{letter_id}",
            **(set_fields or {}),
        }
        if reason is not None:
            sets["status_reason"] = reason
        if error is not None:
            sets["error"] = error.model_dump(mode="json", exclude_none=True)
        names = {f"#f{i}": name for i, name in enumerate(sets)}
        names["#s"] = "status"
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets)))
        values.update({f":v{i}": value for i, value in enumerate(sets.values())})
        if remove_fields:
            names.update({f"#r{i}": name for i, name in enumerate(remove_fields)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove_fields)))
        update = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(org_id, letter_id),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": serialize(values),
            }
        }
        return self._transact([update, self._event_put(org_id, letter_id, event)])

    def record_history(self, org_id: str, letter_id: str, event: LetterEvent) -> None:
        """A history entry that changes no status (late, duplicate or informational events)."""
        put = self._event_put(org_id, letter_id, event)["Put"]
        self.client.put_item(TableName=put["TableName"], Item=put["Item"])

    def set_provider_ref(self, org_id: str, letter_id: str, provider: str, provider_letter_id: str) -> bool:
        """Record the provider's id (and its GSI3 entry) once, whatever the status; False when already set."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(org_id, letter_id),
                UpdateExpression="SET provider_letter_id = :id, GSI3PK = :g3, GSI3SK = :lid",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(provider_letter_id)",
                ExpressionAttributeValues=serialize(
                    {
                        ":id": provider_letter_id,
                        ":g3": keys.provider_letter_gsi3(provider, provider_letter_id),
                        ":lid": letter_id,
                    }
                ),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    # ------------------------------------------------------------------ dispatch claim
    def claim(
        self, org_id: str, letter_id: str, *, generation: int, message_id: str, at: str, stale_before: str
    ) -> ClaimOutcome:
        """Claim a queued letter for one dispatch, fenced by the integration (connected, same generation).

        The claim belongs to an SQS message: its own redelivery may take it again (the previous receive is over:
        the visibility timeout outlives the function timeout), another message only once it is stale.
        """
        check = {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.INTEGRATION_SK}),
                "ConditionExpression": "#s = :connected AND generation = :gen",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": serialize(
                    {":connected": IntegrationStatus.CONNECTED.value, ":gen": generation}
                ),
            }
        }
        update = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(org_id, letter_id),
                "UpdateExpression": "SET claim_message = :m, claimed_at = :at ADD dispatch_attempts :one",
                "ConditionExpression": "#s = :queued AND (attribute_not_exists(claim_message) OR claim_message = :m "
                "OR claimed_at < :stale)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": serialize(
                    {
                        ":m": message_id,
                        ":at": at,
                        ":one": 1,
                        ":queued": LetterStatus.QUEUED.value,
                        ":stale": stale_before,
                    }
                ),
            }
        }
        try:
            self.client.transact_write_items(TransactItems=[check, update])
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return ClaimOutcome.INTEGRATION_CHANGED
            return ClaimOutcome.UNAVAILABLE
        return ClaimOutcome.CLAIMED

    def release_claim(self, org_id: str, letter_id: str, message_id: str, error: LetterError) -> None:
        """After a retryable failure: drop our claim (any message may retry) and keep the last error."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(org_id, letter_id),
                UpdateExpression="REMOVE claim_message, claimed_at SET last_error = :e",
                ConditionExpression="claim_message = :m",
                ExpressionAttributeValues=serialize(
                    {":m": message_id, ":e": error.model_dump(mode="json", exclude_none=True)}
                ),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def record_submitted(
        self,
        org_id: str,
        letter_id: str,
        target: LetterStatus,
        event: LetterEvent,
        *,
        message_id: str,
        provider: str,
        provider_letter_id: str,
        at: str,
        price: Any = None,
        currency: str | None = None,
        secret_ref: str | None = None,
    ) -> bool:
        """queued (claimed by `message_id`) -> submitted/accepted with the provider's id and the connection it went
        through; False if not ours."""
        fields: dict[str, Any] = {
            "provider_letter_id": provider_letter_id,
            "GSI3PK": keys.provider_letter_gsi3(provider, provider_letter_id),
            "GSI3SK": letter_id,
            "provider": provider,
            "submitted_at": at,
        }
        if secret_ref:
            fields["secret_ref"] = secret_ref
        if price is not None:
            fields.update(price=price, currency=currency)
        return self.transition(
            org_id,
            letter_id,
            target,
            event,
            at=at,
            set_fields=fields,
            remove_fields=(*CLAIM_ATTRS, "last_error"),
            extra_condition="claim_message = :m",
            extra_values={":m": message_id},
        )

    def set_staged(self, org_id: str, letter_id: str, staged: dict[str, str]) -> None:
        """Keep what the adapter staged for the create (reused by every retry of this letter)."""
        self.client.update_item(
            TableName=self.table,
            Key=self._key(org_id, letter_id),
            UpdateExpression="SET staged = :s",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=serialize({":s": staged}),
        )

    def requeue_unreachable(self, org_id: str, letter_id: str, event: LetterEvent, *, at: str) -> bool:
        """failed (provider_unavailable, never reached a provider) -> queued: a DLQ redrive retries it.

        `failed` is final for everything a provider decided; a failure that is only ours (the provider could not be
        reached, nothing was handed over) is re-queued, like Odoo re-queues letters after an address fix.
        """
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(org_id, letter_id),
                            "UpdateExpression": "SET #s = :queued, updated_at = :at, GSI2PK = :g2, GSI2SK = :g2sk, "
                            "status_reason = :reason REMOVE #e, claim_message, claimed_at",
                            "ConditionExpression": "#s = :failed AND #e.#c = :code "
                            "AND attribute_not_exists(provider_letter_id)",
                            "ExpressionAttributeNames": {"#s": "status", "#e": "error", "#c": "code"},
                            "ExpressionAttributeValues": serialize(
                                {
                                    ":queued": LetterStatus.QUEUED.value,
                                    ":failed": LetterStatus.FAILED.value,
                                    ":code": ProviderErrorCode.PROVIDER_UNAVAILABLE,
                                    ":at": at,
                                    ":g2": keys.letters_by_status_gsi2(org_id, LetterStatus.QUEUED.value),
                                    ":g2sk": f"{at}#{letter_id}",
                                    ":reason": "redriven",
                                }
                            ),
                        }
                    },
                    self._event_put(org_id, letter_id, event),
                ]
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    # ------------------------------------------------------------------ idempotency and webhook dedupe
    def mark_webhook_event(self, org_id: str, provider: str, event_id: str, *, expires_at: int) -> bool:
        """First sight of a provider event: True; a replay: False (conditional put, TTL `expires_at`)."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(
                    {"PK": keys.org_pk(org_id), "SK": webhook_sk(provider, event_id), "expires_at": expires_at}
                ),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    def forget_webhook_event(self, org_id: str, provider: str, event_id: str) -> None:
        """Undo `mark_webhook_event` when processing failed, so the provider's retry is processed."""
        self.client.delete_item(
            TableName=self.table, Key=serialize({"PK": keys.org_pk(org_id), "SK": webhook_sk(provider, event_id)})
        )

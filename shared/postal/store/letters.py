"""Writing letters: the only code that writes a letter's status (`postal.letters.status` says which changes exist).

A status change is `Update ... ConditionExpression: status IN (sources) AND <guard>` + `Put` of its history entry
in one transaction, so the state machine holds under any concurrency and no change lacks its entry; a batch of
changes (the disconnect cascade) is counted on its job in the same transactions.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.letters import Letter, LetterError, LetterEvent
from postal.letters.status import UNREACHED_CODE, Guard, StatusChange
from postal.models import IntegrationStatus, LetterStatus
from postal.ports import ClaimOutcome
from postal.store import keys
from postal.store.dynamo import Item, is_conditional_failure, serialize, translate
from postal.store.letter_reads import EVENT_TYPE, LETTER_TYPE, LetterReads, letter_key

CLAIM_ATTRS = ("claim_message", "claimed_at")
IDEMPOTENT_MISMATCH = "IdempotentParameterMismatchException"


def event_sk(letter_id: str, at: str, status: str) -> str:
    return f"{keys.letter_sk(letter_id)}#EVENT#{at}#{status}"


def _guard_condition(guard: Guard | None, value: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A guard of `postal.letters.status` as a DynamoDB condition (with its names and values)."""
    if guard is None:
        return "", {}, {}
    if guard is Guard.CLAIMED_BY:
        return "claim_message = :guard", {}, {":guard": value}
    if guard is Guard.UNCLAIMED:
        return "attribute_not_exists(claim_message)", {}, {}
    if guard is Guard.CLAIM_STALE:
        return "(attribute_not_exists(claimed_at) OR claimed_at < :guard)", {}, {":guard": value}
    if guard is Guard.AWAITING_UPLOAD:
        return "awaiting_upload = :guard", {}, {":guard": True}
    return (
        "#err.#code = :guard AND attribute_not_exists(provider_letter_id)",
        {"#err": "error", "#code": "code"},
        {":guard": UNREACHED_CODE},
    )


def _condition(change: StatusChange) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`status IN (sources)` (with the estimated-delivery exit where it applies) AND the change's guard."""
    values: dict[str, Any] = {f":p{i}": s.value for i, s in enumerate(sorted(change.sources))}
    condition = f"#s IN ({', '.join(values)})"
    if change.from_estimated_delivery:
        condition = f"({condition} OR (#s = :delivered AND delivery_estimated = :true))"
        values.update({":delivered": LetterStatus.DELIVERED.value, ":true": True})
    guard, names, guard_values = _guard_condition(change.guard, change.guard_value)
    if guard:
        condition = f"{condition} AND {guard}"
    return condition, {"#s": "status", **names}, {**values, **guard_values}


class LetterRepository(LetterReads):
    """DynamoDB access for letters (reads inherited). `client` is a boto3 DynamoDB client."""

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

    def record_history(self, org_id: str, letter_id: str, event: LetterEvent) -> None:
        """A history entry that changes no status (late, duplicate or informational events)."""
        put = self._event_put(org_id, letter_id, event)["Put"]
        self.client.put_item(TableName=put["TableName"], Item=put["Item"])

    def set_provider_ref(self, org_id: str, letter_id: str, provider: str, provider_letter_id: str) -> bool:
        """Record the provider's id (and its GSI3 entry) once, whatever the status; False when already set."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=letter_key(org_id, letter_id),
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
                "Key": letter_key(org_id, letter_id),
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
                Key=letter_key(org_id, letter_id),
                UpdateExpression="REMOVE claim_message, claimed_at SET last_error = :e",
                ConditionExpression="claim_message = :m",
                ExpressionAttributeValues=serialize(
                    {":m": message_id, ":e": error.model_dump(mode="json", exclude_none=True)}
                ),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def set_staged(self, org_id: str, letter_id: str, staged: dict[str, str]) -> None:
        """Keep what the adapter staged for the create (reused by every retry of this letter)."""
        self.client.update_item(
            TableName=self.table,
            Key=letter_key(org_id, letter_id),
            UpdateExpression="SET staged = :s",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=serialize({":s": staged}),
        )

    def _change_update(self, org_id: str, letter_id: str, change: StatusChange) -> dict[str, Any]:
        condition, names, values = _condition(change)
        sets: dict[str, Any] = {
            "status": change.target.value,
            "updated_at": change.at,
            "GSI2PK": keys.letters_by_status_gsi2(org_id, change.target.value),
            "GSI2SK": f"{change.at}#{letter_id}",
            **change.fields,
        }
        if "provider_letter_id" in change.fields:
            sets["GSI3PK"] = keys.provider_letter_gsi3(str(change.fields["provider"]), str(sets["provider_letter_id"]))
            sets["GSI3SK"] = letter_id
        if change.reason is not None:
            sets["status_reason"] = change.reason
        if change.error is not None:
            sets["error"] = change.error.model_dump(mode="json", exclude_none=True)
        names.update({f"#f{i}": name for i, name in enumerate(sets)})
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets)))
        values.update({f":v{i}": value for i, value in enumerate(sets.values())})
        if change.remove:
            names.update({f"#r{i}": name for i, name in enumerate(change.remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(change.remove)))
        return {
            "Update": {
                "TableName": self.table,
                "Key": letter_key(org_id, letter_id),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": serialize(values),
            }
        }

    def apply(self, org_id: str, letter_id: str, change: StatusChange) -> bool:
        """Apply `change` with its history entry, if its sources and guard hold; False (nothing written) if not."""
        return self._transact(
            [self._change_update(org_id, letter_id, change), self._event_put(org_id, letter_id, change.event)]
        )

    def apply_counted(
        self, org_id: str, changes: list[tuple[str, StatusChange]], job_id: str, counter: str
    ) -> list[str]:
        """Apply many changes (one per letter), each with its history entry and counted on the job, in as few
        transactions as the limit allows; the ids of the letters that changed."""
        first: dict[str, StatusChange] = {}
        for letter_id, change in changes:
            first.setdefault(letter_id, change)  # one operation per item in a transaction: the first change
        unique = list(first.items())
        groups = [
            [self._change_update(org_id, letter_id, change), self._event_put(org_id, letter_id, change.event)]
            for letter_id, change in unique
        ]
        return [unique[i][0] for i in self._committed(org_id, job_id, counter, groups)]

"""Letters in memory: the one writer of a letter's status evaluates every change with the state machine itself
(`postal.letters.status.holds`, the condition `postal.store.letters` renders for DynamoDB), and writes the change and
its history entry together; the reads are the same key and GSI queries as `postal.store.letter_reads`."""

from __future__ import annotations

import builtins
import json
from functools import partial
from typing import Any

from postal.letters import Letter, LetterError, LetterEvent
from postal.letters.status import StatusChange, holds
from postal.models import LetterStatus
from postal.ports import ClaimOutcome
from postal.store import keys
from tests.fakes.memory.table import ConditionFailed, Item, MemoryTable, clean, encode_cursor

LETTER_TYPE = "letter"
EVENT_TYPE = "letter_event"


def event_sk(letter_id: str, at: str, status: str) -> str:
    return f"{keys.letter_sk(letter_id)}#EVENT#{at}#{status}"


def changed_item(org_id: str, letter_id: str, item: Item, change: StatusChange) -> Item | None:
    """The stored letter after `change`, or None when the machine says the change does not hold."""
    if not holds(change, item):
        return None
    for name in change.remove:
        item.pop(name, None)
    item.update(clean(dict(change.fields)))
    item.update(
        status=change.target.value,
        updated_at=change.at,
        GSI2PK=keys.letters_by_status_gsi2(org_id, change.target.value),
        GSI2SK=f"{change.at}#{letter_id}",
    )
    if "provider_letter_id" in change.fields:
        item["GSI3PK"] = keys.provider_letter_gsi3(str(change.fields["provider"]), str(item["provider_letter_id"]))
        item["GSI3SK"] = letter_id
    if change.reason is not None:
        item["status_reason"] = change.reason
    if change.error is not None:
        item["error"] = change.error.model_dump(mode="json", exclude_none=True)
    return item


class MemoryLetterReads:
    def __init__(self, table: MemoryTable):
        self.table = table

    def get_raw(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Item | None:
        return self.table.get(keys.org_pk(org_id), keys.letter_sk(letter_id))

    def get(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Letter | None:
        item = self.get_raw(org_id, letter_id)
        return Letter.model_validate(item) if item else None

    def history(self, org_id: str, letter_id: str) -> builtins.list[LetterEvent]:
        prefix = f"{keys.letter_sk(letter_id)}#EVENT#"
        items = self.table.query(index=None, pk=keys.org_pk(org_id), sk=lambda sk: sk.startswith(prefix))
        return [LetterEvent.model_validate(i) for i in items]

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
        """Newest first, by status (GSI2), by customer (GSI1), else by id; the dates and the item type filter."""
        if status:
            index, pk, sk = "GSI2", keys.letters_by_status_gsi2(org_id, status), None
        elif customer_id:
            index, pk, sk = "GSI1", keys.letters_by_customer_gsi1(org_id, customer_id), None
        else:
            index, pk, sk = None, keys.org_pk(org_id), lambda s: s.startswith("LETTER#")
        items, _ = self.table.page(index=index, pk=pk, limit=10**9, cursor=cursor, sk=sk, forward=False)
        found = [
            i
            for i in items
            if i.get("item_type") == LETTER_TYPE
            and (not created_from or str(i.get("created_at")) >= created_from)
            and (not created_to or str(i.get("created_at")) < created_to)
        ][:limit]
        if len(found) < limit:
            return [Letter.model_validate(i) for i in found], None
        names = ["PK", "SK", *((f"{index}PK", f"{index}SK") if index else ())]
        last = {n: str(found[-1][n]) for n in names}
        return [Letter.model_validate(i) for i in found], encode_cursor(last)

    def stuck_in(self, org_id: str, status: str, *, since_before: str, limit: int) -> builtins.list[Letter]:
        pk = keys.letters_by_status_gsi2(org_id, status)
        items = self.table.query(index="GSI2", pk=pk, sk=lambda sk: sk < since_before)[:limit]
        return [Letter.model_validate(i) for i in items]

    def find_by_provider_id(self, org_id: str, provider: str, provider_letter_id: str) -> str | None:
        for item in self.table.query(index="GSI3", pk=keys.provider_letter_gsi3(provider, provider_letter_id)):
            if item.get("PK") == keys.org_pk(org_id):
                return str(item["GSI3SK"])
        return None

    def unsubmitted(self, org_id: str, status: str, limit: int) -> builtins.list[Letter]:
        items = self.table.query(index="GSI2", pk=keys.letters_by_status_gsi2(org_id, status))[:limit]
        return [Letter.model_validate(i) for i in items]

    def count_letters(self, org_id: str, status: str) -> int:
        return len(self.table.query(index="GSI2", pk=keys.letters_by_status_gsi2(org_id, status)))


class MemoryLetters(MemoryLetterReads):
    def letter_item(self, letter: Letter) -> Item:
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

    def _event_item(self, org_id: str, letter_id: str, event: LetterEvent) -> Item:
        return {
            "PK": keys.org_pk(org_id),
            "SK": event_sk(letter_id, event.occurred_at, event.status),
            "item_type": EVENT_TYPE,
            "letter_id": letter_id,
            **event.model_dump(mode="json", exclude_none=True),
        }

    def create(self, letter: Letter, events: builtins.list[LetterEvent], *, request_token: str | None = None) -> bool:
        item = self.letter_item(letter)
        fingerprint = json.dumps([item, *(e.model_dump(mode="json") for e in events)], sort_keys=True, default=str)
        try:
            with self.table.transaction(request_token, fingerprint) as fresh:
                if fresh:
                    if not self.table.put_once(item):
                        raise ConditionFailed(0)
                    for event in events:
                        self.table.put(self._event_item(letter.org_id, letter.letter_id, event))
        except ConditionFailed:
            return False
        return True

    def record_history(self, org_id: str, letter_id: str, event: LetterEvent) -> None:
        self.table.put(self._event_item(org_id, letter_id, event))

    def _update(self, org_id: str, letter_id: str, change: Any) -> bool:
        try:
            self.table.update(keys.org_pk(org_id), keys.letter_sk(letter_id), change, create=False)
        except ConditionFailed:
            return False
        return True

    def set_provider_ref(self, org_id: str, letter_id: str, provider: str, provider_letter_id: str) -> bool:
        def ref(item: Item) -> Item | None:
            if "provider_letter_id" in item:
                return None
            gsi3 = keys.provider_letter_gsi3(provider, provider_letter_id)
            return {**item, "provider_letter_id": provider_letter_id, "GSI3PK": gsi3, "GSI3SK": letter_id}

        return self._update(org_id, letter_id, ref)

    def claim(
        self, org_id: str, letter_id: str, *, generation: int, message_id: str, at: str, stale_before: str
    ) -> ClaimOutcome:
        """Fenced by the integration (connected, same generation), then queued and free (or ours, or stale)."""
        with self.table.transaction():
            if not self.table.integration_connected(org_id, generation):
                return ClaimOutcome.INTEGRATION_CHANGED

            def take(item: Item) -> Item | None:
                claim = item.get("claim_message")
                free = claim is None or claim == message_id or str(item.get("claimed_at", "")) < stale_before
                if item.get("status") != LetterStatus.QUEUED.value or not free:
                    return None
                attempts = int(item.get("dispatch_attempts", 0)) + 1
                return {**item, "claim_message": message_id, "claimed_at": at, "dispatch_attempts": attempts}

            return ClaimOutcome.CLAIMED if self._update(org_id, letter_id, take) else ClaimOutcome.UNAVAILABLE

    def release_claim(self, org_id: str, letter_id: str, message_id: str, error: LetterError) -> None:
        def release(item: Item) -> Item | None:
            if item.get("claim_message") != message_id:
                return None
            item.pop("claim_message", None)
            item.pop("claimed_at", None)
            return {**item, "last_error": error.model_dump(mode="json", exclude_none=True)}

        self._update(org_id, letter_id, release)

    def set_staged(self, org_id: str, letter_id: str, staged: dict[str, str]) -> None:
        self.table.update(
            keys.org_pk(org_id), keys.letter_sk(letter_id), lambda i: {**i, "staged": dict(staged)}, create=False
        )

    def _apply(self, org_id: str, letter_id: str, change: StatusChange) -> None:
        self.table.update(
            keys.org_pk(org_id), keys.letter_sk(letter_id), lambda i: changed_item(org_id, letter_id, i, change)
        )
        self.table.put(self._event_item(org_id, letter_id, change.event))

    def apply(self, org_id: str, letter_id: str, change: StatusChange) -> bool:
        try:
            with self.table.transaction():
                self._apply(org_id, letter_id, change)
        except ConditionFailed:
            return False
        return True

    def apply_counted(
        self, org_id: str, changes: builtins.list[tuple[str, StatusChange]], job_id: str, counter: str
    ) -> builtins.list[str]:
        first: dict[str, StatusChange] = {}
        for letter_id, change in changes:
            first.setdefault(letter_id, change)  # as the repository: one change per letter, the first
        unique = list(first.items())
        applies = [partial(self._apply, org_id, lid, c) for lid, c in unique]
        return [unique[i][0] for i in self.table.counted(org_id, job_id, counter, applies)]

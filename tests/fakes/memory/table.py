"""The one in-memory table under every fake repository: items by (PK, SK) with the same attributes (and so the same
GSI keys) as the DynamoDB repositories write, conditional writes, all-or-nothing transactions and pages with cursors.

Items are never changed in place: a write replaces the item with a new dict, so a transaction's snapshot is a
shallow copy of the index and a failed condition restores it whole.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from postal.errors import BadRequest, NotConnected, PreconditionFailed
from postal.models import IntegrationStatus
from postal.store import keys

Item = dict[str, Any]
Key = tuple[str, str]
TRANSACTION_LIMIT = 100


class ConditionFailed(Exception):
    """A condition of a write did not hold (DynamoDB's ConditionalCheckFailed); `position` is the failed item's place
    in a transaction."""

    def __init__(self, position: int = 0):
        super().__init__(f"condition failed (item {position})")
        self.position = position


def clean(value: Any) -> Any:
    """As DynamoDB keeps a value: None dropped from maps, tuples as lists, every container copied."""
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return copy.copy(value)


def dump(model: Any) -> Item:
    """A model as stored: JSON types, no None (`postal.store.table.dump`)."""
    result: Item = model.model_dump(mode="json", exclude_none=True)
    return result


def encode_cursor(key: Mapping[str, Any] | None) -> str | None:
    if not key:
        return None
    raw = json.dumps(dict(key), separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str | None, *, expected_pk: str, key_names: list[str]) -> dict[str, str] | None:
    """A cursor of this query, or a 400 for one minted elsewhere (another partition, another shape)."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError) as exc:
        raise BadRequest("invalid pagination cursor", code="invalid_cursor") from exc
    if (
        not isinstance(key, dict)
        or set(key) != set(key_names)
        or not all(isinstance(v, str) and 0 < len(v) <= 1024 for v in key.values())
        or expected_pk not in key.values()
    ):
        raise BadRequest("invalid pagination cursor", code="invalid_cursor")
    return key


def index_names(index: str | None) -> tuple[str, str]:
    """The partition and sort key attributes of the table (None) or of a GSI."""
    return ("PK", "SK") if index is None else (f"{index}PK", f"{index}SK")


class MemoryTable:
    """Items by (PK, SK). `writes` counts committed writes (a transaction counts once)."""

    def __init__(self) -> None:
        self.items: dict[Key, Item] = {}
        self.writes = 0
        self._lock = threading.RLock()
        self._tokens: dict[str, str] = {}

    def get(self, pk: str, sk: str) -> Item | None:
        item = self.items.get((pk, sk))
        return copy.deepcopy(item) if item is not None else None

    def put(self, item: Mapping[str, Any]) -> None:
        stored = clean(item)
        self.items[(stored["PK"], stored["SK"])] = stored
        self.writes += 1

    def delete(self, pk: str, sk: str) -> None:
        self.items.pop((pk, sk), None)
        self.writes += 1

    def put_once(self, item: Mapping[str, Any], *, expires_at: int | None = None) -> bool:
        """The "once" primitive: write only if nothing has the key yet."""
        with self._lock:
            if (item["PK"], item["SK"]) in self.items:
                return False
            self.put({**item, **({keys.TTL_ATTRIBUTE: expires_at} if expires_at is not None else {})})
            return True

    def update(
        self, pk: str, sk: str, change: Callable[[Item], Item | None], *, create: bool = True, position: int = 0
    ) -> Item:
        """Replace an item by `change(copy of it)` (an empty item when missing and `create`, as an UpdateItem
        does); `change` returns None when its condition fails."""
        with self._lock:
            current = self.items.get((pk, sk))
            if current is None and not create:
                raise ConditionFailed(position)
            draft = copy.deepcopy(current) if current is not None else {"PK": pk, "SK": sk}
            new = change(draft)
            if new is None:
                raise ConditionFailed(position)
            self.put(new)
            return copy.deepcopy(new)

    @contextmanager
    def transaction(self, request_token: str | None = None, fingerprint: str = "") -> Iterator[bool]:
        """All or nothing: any failure inside (a `ConditionFailed` above all) restores every item. Yields False
        when `request_token` was already used for the same request (nothing to do again); a token reused for another
        request fails."""
        with self._lock:
            if request_token is not None and request_token in self._tokens:
                if self._tokens[request_token] != fingerprint:
                    raise ConditionFailed(0)
                yield False
                return
            snapshot, writes = dict(self.items), self.writes
            try:
                yield True
            except BaseException:
                self.items, self.writes = snapshot, writes
                raise
            self.writes = writes + 1
            if request_token is not None:
                self._tokens[request_token] = fingerprint

    def query(
        self,
        *,
        index: str | None,
        pk: str,
        sk: Callable[[str], bool] | None = None,
        forward: bool = True,
    ) -> list[Item]:
        """Every item of one partition of the table or of a GSI (sparse: only items with its keys), in key order."""
        pk_name, sk_name = index_names(index)
        found = [
            i
            for i in self.items.values()
            if i.get(pk_name) == pk and sk_name in i and (sk is None or sk(str(i[sk_name])))
        ]
        found.sort(key=lambda i: (str(i[sk_name]), i["PK"], i["SK"]), reverse=not forward)
        return [copy.deepcopy(i) for i in found]

    def page(
        self,
        *,
        index: str | None,
        pk: str,
        limit: int,
        cursor: str | None,
        sk: Callable[[str], bool] | None = None,
        forward: bool = True,
    ) -> tuple[list[Item], str | None]:
        """One page of `limit` items after `cursor`, and the cursor of the next (set when the page is full)."""
        names = ["PK", "SK", *(index_names(index) if index else ())]
        start = decode_cursor(cursor, expected_pk=pk, key_names=names)
        items = self.query(index=index, pk=pk, sk=sk, forward=forward)
        if start is not None:
            marks = [tuple(str(i.get(n)) for n in names) for i in items]
            mark = tuple(start[n] for n in names)
            items = items[marks.index(mark) + 1 :] if mark in marks else _after(items, start, index, forward)
        chosen = items[:limit]
        last = chosen[-1] if len(chosen) == limit and chosen else None
        return chosen, encode_cursor({n: str(last[n]) for n in names} if last else None)

    def integration_connected(self, org_id: str, generation: int | None = None) -> bool:
        item = self.items.get((keys.org_pk(org_id), keys.INTEGRATION_SK)) or {}
        if item.get("status") != IntegrationStatus.CONNECTED.value:
            return False
        return generation is None or item.get("generation") == generation

    def require_connected(self, org_id: str, what: str = "post") -> None:
        """The integration fence of `Table._put_requiring_connected`."""
        if not self.integration_connected(org_id):
            raise NotConnected(
                f"{what} needs the postal integration to be connected",
                fix="connect the postal integration first (POST .../integrations/postal/connect)",
            )

    def tick(self, org_id: str, job_id: str, counter: str, n: int = 1, at: str | None = None) -> None:
        """`ADD done :n, counts.#c :n` on a job (a missing job or counts map fails, as the document path does)."""

        def add(job: Item) -> Item:
            if "counts" not in job:
                raise PreconditionFailed(f"job '{job_id}' has no counts to add to")
            job["done"] = int(job.get("done", 0)) + n
            job["counts"] = {**job["counts"], counter: int(job["counts"].get(counter, 0)) + n}
            if at is not None:
                job["updated_at"] = at
            return job

        self.update(keys.org_pk(org_id), keys.job_sk(job_id), add)

    def counted(self, org_id: str, job_id: str, counter: str, changes: Sequence[Callable[[], object]]) -> list[int]:
        """Apply each change that holds (a change raising `ConditionFailed` is dropped), and count those on the
        job in the same transaction: the positions of the changes that committed."""
        committed: list[int] = []
        with self.transaction():
            for position, apply in enumerate(changes):
                try:
                    with self.transaction():
                        apply()
                except ConditionFailed:
                    continue
                committed.append(position)
            if committed:
                self.tick(org_id, job_id, counter, len(committed))
        return committed


def _after(items: list[Item], start: Mapping[str, str], index: str | None, forward: bool) -> list[Item]:
    """The items after a cursor whose item is gone (DynamoDB continues after the key, present or not)."""
    _, sk_name = index_names(index)
    mark = (start.get(sk_name, ""), start["PK"], start["SK"])

    def beyond(i: Item) -> bool:
        here = (str(i[sk_name]), i["PK"], i["SK"])
        return here > mark if forward else here < mark

    return [i for i in items if beyond(i)]

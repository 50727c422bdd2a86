"""Stand-ins for behaviour of moto that is unlike DynamoDB: O(table) costs per call, memory that only grows, and
a backend that is not safe under concurrent requests. Used by the local stack (local/stack.py) and by the tests
and benchmarks that hold tens of thousands of items (tests/integration/test_cascade_scale.py,
bench/bench_cascade.py).

- `transact_write_items` deep-copies every table a transaction names before running it (to roll back on
  failure): each transaction costs O(table size), about 0.6 s at 3,000 items and 3 s at 20,000.
  `item_level_rollback()` backs up only the items the transaction names and restores those on failure.
- moto keeps every model object it ever created in a class-level list for its dashboard: memory that grows with
  the number of operations. `forget_moto_instances()` empties that list.

- moto's DynamoDB backend is not thread-safe: two transactions at once can raise `RuntimeError: dictionary
  changed size during iteration`, which the SDK reports as a 500 and the service would turn into a wrong domain
  answer. `SerializedDynamoDB` wraps the moto server's WSGI app so that DynamoDB calls run one at a time (as
  every call of one item does on DynamoDB); the other services (SQS long polls) stay concurrent.

None changes an outcome; tests/integration/test_cascade_scale.py pins the rollback down against plain moto.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import moto.dynamodb.models as moto_dynamodb
from moto.core.model_instances import reset_model_data
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table


class _NoTableCopy:
    """Stands in for the `copy` module inside moto's DynamoDB models while a transaction runs: tables are handed
    back as they are (so moto's own table "restore" changes nothing), anything else is deep-copied as before."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_Saved = list[tuple[Table, Any, Any, Any]]  # (table, hash key, range key, the item before or None) per named item


def _snapshot(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> _Saved:
    """A copy of every item the transaction names, as it is before the transaction runs."""
    saved: _Saved = []
    for entry in transact_items:
        op = next(iter(entry.values()))
        table = backend.tables[op["TableName"]]
        source = op["Key"] if "Key" in op else op["Item"]
        key = {table.hash_key_attr: source[table.hash_key_attr]}
        if table.range_key_attr:
            key[table.range_key_attr] = source[table.range_key_attr]
        before = backend.get_item(table.name, key)
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        saved.append((table, hash_key, range_key, copy.deepcopy(before)))
    return saved


def _restore(saved: _Saved) -> None:
    """Put every saved item back (and remove the ones that did not exist), last first."""
    for table, hash_key, range_key, before in reversed(saved):
        if table.range_key_attr:
            partition = table.items[hash_key]
            if before is None:
                partition.pop(range_key, None)
            else:
                partition[range_key] = before
        elif before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before


@contextmanager
def item_level_rollback() -> Iterator[None]:
    """Make moto's `transact_write_items` back up only the items it touches instead of deep-copying every table.

    moto copies each table named by a transaction before running it and puts the copy back on failure. Here the
    table copy is skipped (the copy handed back is the live table, so moto's own "restore" changes nothing) and
    the wrapper restores the items the transaction names, from copies taken before it ran. The outcome of a
    cancelled transaction is the same: every item it names is as before, nothing else was touched.
    """
    original = DynamoDBBackend.transact_write_items
    real_copy = moto_dynamodb.copy

    def transact(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        try:
            saved = _snapshot(self, transact_items)
        except Exception:  # an unusual request: moto's own full-table backup, and its own error
            return original(self, transact_items)
        moto_dynamodb.copy = _NoTableCopy  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except Exception:
            _restore(saved)
            raise
        finally:
            moto_dynamodb.copy = real_copy
        return None

    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


def forget_moto_instances() -> None:
    """Drop moto's registry of every model object it ever created (kept for its server dashboard only).

    Each `BaseModel` instance (every DynamoDB `Item` moto copies for a query result, a transaction or an update,
    every SQS message) is appended to a class-level list until moto resets: memory that grows with the number of
    operations, whoever runs them. The backends keep their own state; only that list is emptied.
    """
    reset_model_data()


class SerializedDynamoDB:
    """A WSGI middleware: DynamoDB requests (`X-Amz-Target: DynamoDB_...`) one at a time, the rest concurrent."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))  # the whole response is built inside the lock

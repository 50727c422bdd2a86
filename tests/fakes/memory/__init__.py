"""In-memory implementations of every port of `postal.ports`, honouring the DynamoDB repositories' conditions
(conditional creates, optimistic locks, the integration fence, all-or-nothing transactions, job counts once per
committed change, sparse indexes, cursors). `MemoryWorld` builds them all; `tests/conformance` runs the same
scenarios against these fakes and the moto repositories."""

from tests.fakes.memory.provider import MemoryProvider, MemoryProviders, webhook_body
from tests.fakes.memory.table import ConditionFailed, MemoryTable
from tests.fakes.memory.world import Clock, MemoryWorld, memory_stores

__all__ = [
    "Clock",
    "ConditionFailed",
    "MemoryProvider",
    "MemoryProviders",
    "MemoryTable",
    "MemoryWorld",
    "memory_stores",
    "webhook_body",
]

"""Time and ids, injectable so logic stays pure and tests deterministic."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    """Sortable by creation time (ms timestamp in base-16), unique by 64 random bits."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"

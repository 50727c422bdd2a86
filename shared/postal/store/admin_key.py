"""The admin key in Secrets Manager, re-read after a short time so that rotating it needs no cold start."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

# How long a container trusts the admin key it read: after a rotation in Secrets Manager, the old admin key is
# refused by the authorizer within this many seconds (and at once by the key-management routes, which read fresh).
ADMIN_KEY_MAX_AGE_S = 30


class AdminKey:
    def __init__(
        self,
        client: Any,
        secret_id: str,
        *,
        max_age_s: float = ADMIN_KEY_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.secret_id = secret_id
        self.max_age_s = max_age_s
        self.clock = clock
        self._value: str | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def current(self, *, fresh: bool = False) -> str:
        """The admin key; from Secrets Manager when `fresh` or when the copy held is older than `max_age_s`."""
        with self._lock:
            now = self.clock()
            if fresh or self._value is None or now - self._read_at >= self.max_age_s:
                resp = self.client.get_secret_value(SecretId=self.secret_id)
                self._value, self._read_at = str(resp["SecretString"]), now
            return self._value

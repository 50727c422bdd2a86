"""OAuth2 access tokens, cached per (client, organisation) until shortly before they expire (§1.1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TOKEN_MARGIN_S = 60.0  # renew this long before expiry, like the JS SDK (§1.1)


@dataclass
class _Token:
    value: str
    renew_at: float


class TokenCache:
    """Access tokens per (token URL, client id), shared by the adapters of one Lambda container."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> str | None:
        """A cached token that is not within the renewal margin of its expiry."""
        with self._lock:
            token = self._tokens.get(key)
            return token.value if token and self._clock() < token.renew_at else None

    def put(self, key: tuple[str, str], value: str, expires_in: float) -> None:
        """Store a token; it is renewed `TOKEN_MARGIN_S` before it expires."""
        with self._lock:
            self._tokens[key] = _Token(value, self._clock() + max(0.0, expires_in - TOKEN_MARGIN_S))

    def drop(self, key: tuple[str, str]) -> None:
        """Forget a token the API refused (401)."""
        with self._lock:
            self._tokens.pop(key, None)


_TOKENS = TokenCache()

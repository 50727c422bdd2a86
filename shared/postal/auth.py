"""API keys: generated once, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Protocol

from postal.errors import Unauthorized

KEY_PREFIX = "pc_live_"


def new_api_key() -> str:
    """A fresh org API key with 256 bits of entropy."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(api_key: str) -> str:
    """SHA-256 is enough for high-entropy random keys (no password stretching needed)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class KeyLookup(Protocol):
    def org_for_key(self, key_hash: str, *, consistent: bool = False) -> str | None: ...


def require_current_key(
    token: str | None, *, org_id: str | None, is_admin: bool, keys: KeyLookup, admin_key: Callable[[], str]
) -> None:
    """401 unless the presented key is valid *now*, not only when the gateway cached its authorization.

    The key-management routes (creating orgs, rotating keys) call this: a key revoked a second ago must not mint
    a new one, whatever the authorizer cache still says.
    """
    if token is not None:
        if is_admin and same_secret(token, admin_key()):
            return
        if not is_admin and org_id is not None and keys.org_for_key(hash_key(token), consistent=True) == org_id:
            return
    raise Unauthorized("this API key is no longer valid", code="unauthorized", fix="use the current API key")

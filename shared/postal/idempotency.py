"""`Idempotency-Key` for every request that creates something (PRODUCT.md §4), one behaviour everywhere.

A new key reserves the id of the resource about to be created; a replay with the same body gets that id back (the
caller returns what exists, or finishes creating it under that id); the same key with another body is a 422
(as the IETF Idempotency-Key draft says), never a second resource.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel

from postal.errors import BadRequest, DomainError, ServiceUnavailable, ValidationFailed
from postal.ports import IdempotencyHit, IdempotencyKeys

MAX_KEY = 255
TTL_S = 24 * 3600


KeyStore = IdempotencyKeys  # the port of the Idempotency-Key table (postal.ports)


def request_hash(body: BaseModel) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def request_token(scope: str, org_id: str, key: str, body: BaseModel) -> str:
    """The `ClientRequestToken` of the transaction a request makes (36 characters, DynamoDB's maximum): the same
    for every retry of the same request, so a retried TransactWriteItems that already committed succeeds again
    instead of failing its `attribute_not_exists` condition."""
    return hashlib.sha256(f"{scope}#{org_id}#{key}#{request_hash(body)}".encode()).hexdigest()[:36]


def validate_key(key: str | None, *, required: bool, what: str) -> str | None:
    """400 for a missing (when required) or malformed key."""
    if key is None or key == "":
        if required:
            raise BadRequest(
                f"{what} needs an Idempotency-Key header (1-{MAX_KEY} characters)",
                code="idempotency_key_required",
                fix="send a unique Idempotency-Key per request; repeat it when you retry the same request",
            )
        return None
    if len(key) > MAX_KEY or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1-{MAX_KEY} printable characters", code="invalid_idempotency_key")
    return key


def claim(
    store: KeyStore, scope: str, org_id: str, key: str, body: BaseModel, new_resource_id: str
) -> tuple[bool, str]:
    """(is_new, resource_id) for this key; 422 `idempotency_key_reused` when the key came with another body."""
    hit, resource_id = store.reserve(
        scope, org_id, key, request_hash(body), new_resource_id, expires_at=int(time.time()) + TTL_S
    )
    if hit is IdempotencyHit.DIFFERENT_BODY:
        raise ValidationFailed(
            "this Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
            details={"resource_id": resource_id},
            fix="use a new Idempotency-Key for a new request; repeat a key only with the identical body",
        )
    return hit is IdempotencyHit.NEW, resource_id


@contextmanager
def released_on_refusal(
    store: KeyStore, scope: str, org_id: str, key: str, body: BaseModel, *, is_new: bool
) -> Iterator[None]:
    """A request refused after it claimed its key (a 4xx: unknown template, address that does not fit, ...)
    created nothing: the key is released, so the client can correct the body and retry with the same key.
    Server faults keep the claim: the retry finishes the creation under the id it reserved."""
    try:
        yield
    except DomainError as exc:
        if is_new and not isinstance(exc, ServiceUnavailable):
            store.release(scope, org_id, key, request_hash(body))
        raise

"""Creating organisations and rotating their API keys: a key is generated here, returned once, stored only as a
hash."""

from __future__ import annotations

from pydantic import BaseModel

from postal import idempotency
from postal.auth import hash_key, new_api_key
from postal.clock import new_id
from postal.documents.zones import get_zone
from postal.errors import Conflict, ValidationFailed
from postal.models import Org, OrgIn, OrgPatch, ReturnedMailFallback
from postal.ports import Stores

# Idempotency records are scoped by org; org creation is an admin call, outside any org.
ADMIN_SCOPE = "admin"


class CreatedOrg(BaseModel):
    org: Org
    api_key: str


class RotatedKey(BaseModel):
    org_id: str
    api_key: str
    rotated_at: str


def create_org(
    stores: Stores,
    body: OrgIn,
    now: str,
    *,
    keys: idempotency.KeyStore | None = None,
    idempotency_key: str | None = None,
) -> CreatedOrg:
    """A new org and its API key. With an `Idempotency-Key`, a replay never creates a second org: it finishes a
    creation that crashed half-way, or, once the org exists, answers 409 (the key was shown once; rotate it)."""
    if body.window_standard:
        get_zone(body.window_standard)  # 404 listing the known standards
    org_id = new_id("org")
    key = idempotency.validate_key(idempotency_key, required=False, what="creating an organisation")
    replay = False
    if key is not None and keys is not None:
        is_new, org_id = idempotency.claim(keys, "orgs", ADMIN_SCOPE, key, body, org_id)
        replay = not is_new
        if replay and stores.orgs.find_org(org_id, consistent=True) is not None:
            raise _already_created(org_id)
    org = Org(org_id=org_id, created_at=now, **body.model_dump())
    api_key = new_api_key()
    token = idempotency.request_token("orgs", ADMIN_SCOPE, key, body) if key is not None else None
    try:
        stores.orgs.create_org(org, hash_key(api_key), request_token=token)
    except Conflict as exc:
        if replay:  # a concurrent replay finished it first
            raise _already_created(org_id) from exc
        raise
    return CreatedOrg(org=org, api_key=api_key)


def _already_created(org_id: str) -> Conflict:
    return Conflict(
        f"organisation '{org_id}' was already created with this Idempotency-Key",
        code="org_already_created",
        details={"org_id": org_id},
        fix=f"its API key was returned once, by the first response; if it was lost, rotate it: "
        f"POST /v1/orgs/{org_id}/api-key with the admin key",
    )


def update_org(stores: Stores, org_id: str, patch: OrgPatch, now: str) -> Org:
    """Apply the fields the patch gives (`null` clears an optional one; `name` cannot be cleared)."""
    given = patch.model_fields_set
    if "name" in given and patch.name is None:
        raise ValidationFailed("name cannot be removed", details=[{"field": "name", "problem": "required"}])
    if patch.window_standard:
        get_zone(patch.window_standard)  # 404 listing the known standards
    org = stores.orgs.get_org(org_id, consistent=True)  # the updated_at the write is conditioned on
    changes = {field: getattr(patch, field) for field in given}
    if changes.get("returned_mail_fallback", org.returned_mail_fallback) is None:
        changes["returned_mail_fallback"] = ReturnedMailFallback.NONE
    updated = Org.model_validate({**org.model_dump(), **changes, "updated_at": now})
    stores.orgs.update_org(updated, org.updated_at)
    return updated


def rotate_api_key(stores: Stores, org_id: str, now: str) -> RotatedKey:
    """A new API key for the org; the old one stops working (once the gateway's authorizer cache expires)."""
    api_key = new_api_key()
    stores.orgs.rotate_api_key(org_id, hash_key(api_key), now)
    return RotatedKey(org_id=org_id, api_key=api_key, rotated_at=now)


def get_org(stores: Stores, org_id: str) -> Org:
    return stores.orgs.get_org(org_id)

"""Orgs, their API keys and the postal integration, in memory (the conditions of `postal.store.orgs` and
`postal.store.integration`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from postal.errors import Conflict, NotFound, PreconditionFailed
from postal.models import IntegrationStatus, Job, Org, PostalIntegration
from postal.store import keys
from tests.fakes.memory.table import ConditionFailed, Item, MemoryTable, dump


def _api_key_item(key_hash: str, org_id: str, at: str) -> Item:
    return {"PK": keys.api_key_pk(key_hash), "SK": keys.API_KEY_SK, "org_id": org_id, "created_at": at}


class MemoryOrgs:
    def __init__(self, table: MemoryTable):
        self.table = table

    def create_org(self, org: Org, key_hash: str, *, request_token: str | None = None) -> None:
        pk = keys.org_pk(org.org_id)
        items = [
            {"PK": pk, "SK": keys.ORG_SK, "GSI3PK": keys.ALL_ORGS_GSI3, "GSI3SK": org.org_id, **dump(org)},
            _api_key_item(key_hash, org.org_id, org.created_at),
            {"PK": pk, "SK": keys.ORG_API_KEY_SK, "key_hash": key_hash, "created_at": org.created_at},
            {"PK": pk, "SK": keys.INTEGRATION_SK, **dump(PostalIntegration(org_id=org.org_id))},
        ]
        try:
            with self.table.transaction(request_token, json.dumps(items, sort_keys=True)) as fresh:
                if not fresh:
                    return
                for position, item in enumerate(items):
                    if (item["PK"], item["SK"]) in self.table.items:
                        raise ConditionFailed(position)
                    self.table.put(item)
        except ConditionFailed as exc:
            raise Conflict(f"organisation '{org.org_id}' already exists", code="org_exists") from exc

    def get_org(self, org_id: str, *, consistent: bool = False) -> Org:
        org = self.find_org(org_id, consistent=consistent)
        if org is None:
            raise NotFound(f"organisation '{org_id}' not found")
        return org

    def find_org(self, org_id: str, *, consistent: bool = False) -> Org | None:
        item = self.table.get(keys.org_pk(org_id), keys.ORG_SK)
        return Org.model_validate(item) if item else None

    def update_org(self, org: Org, seen_updated_at: str | None) -> None:
        with self.table.transaction():
            current = self.table.items.get((keys.org_pk(org.org_id), keys.ORG_SK))
            if seen_updated_at is None:
                holds = current is not None and "updated_at" not in current
            else:
                holds = current is not None and current.get("updated_at") == seen_updated_at
            if not holds:
                raise PreconditionFailed("the organisation changed concurrently; read it again and retry")
            pk = keys.org_pk(org.org_id)
            self.table.put(
                {"PK": pk, "SK": keys.ORG_SK, "GSI3PK": keys.ALL_ORGS_GSI3, "GSI3SK": org.org_id, **dump(org)}
            )

    def rotate_api_key(self, org_id: str, new_hash: str, at: str) -> None:
        pk = keys.org_pk(org_id)
        pointer = self.table.get(pk, keys.ORG_API_KEY_SK)
        if pointer is None:
            self.get_org(org_id)
            raise Conflict(f"organisation '{org_id}' has no rotatable API key", code="api_key_not_rotatable")
        old_hash = str(pointer["key_hash"])
        try:
            with self.table.transaction():
                if (keys.api_key_pk(new_hash), keys.API_KEY_SK) in self.table.items:
                    raise ConditionFailed(0)
                self.table.put(_api_key_item(new_hash, org_id, at))
                self.table.update(pk, keys.ORG_API_KEY_SK, lambda i: _rotated(i, old_hash, new_hash, at), position=1)
                self.table.delete(keys.api_key_pk(old_hash), keys.API_KEY_SK)
        except ConditionFailed as exc:
            raise PreconditionFailed("the API key was rotated concurrently; retry") from exc

    def org_for_key(self, key_hash: str, *, consistent: bool = False) -> str | None:
        item = self.table.get(keys.api_key_pk(key_hash), keys.API_KEY_SK)
        return str(item["org_id"]) if item else None

    def iter_org_ids(self) -> Iterator[str]:
        for item in self.table.query(index="GSI3", pk=keys.ALL_ORGS_GSI3):
            yield str(item["GSI3SK"])


def _rotated(item: Item, old_hash: str, new_hash: str, at: str) -> Item | None:
    if item.get("key_hash") != old_hash:
        return None
    return {**item, "key_hash": new_hash, "rotated_at": at}


class MemoryIntegrations:
    def __init__(self, table: MemoryTable):
        self.table = table

    def _item(self, org_id: str) -> Item | None:
        return self.table.get(keys.org_pk(org_id), keys.INTEGRATION_SK)

    def get_integration(self, org_id: str, *, consistent: bool = False) -> PostalIntegration:
        item = self._item(org_id)
        if not item:
            raise NotFound(f"organisation '{org_id}' not found")
        return PostalIntegration.model_validate(item)

    def connect(self, integration: PostalIntegration, expected_generation: int) -> None:
        item = {"PK": keys.org_pk(integration.org_id), "SK": keys.INTEGRATION_SK, **dump(integration)}
        item["secret_ref"] = integration.secret_ref
        if integration.past_secret_refs:
            item["past_secret_refs"] = integration.past_secret_refs
        with self.table.transaction():
            current = self._item(integration.org_id) or {}
            disconnected = current.get("status") == IntegrationStatus.DISCONNECTED.value
            if not disconnected or current.get("generation") != expected_generation:
                raise Conflict("the integration changed meanwhile; retry", code="integration_changed")
            self.table.put(item)

    def secret_ref(self, org_id: str, *, consistent: bool = True) -> str | None:
        item = self._item(org_id)
        return str(item["secret_ref"]) if item and item.get("secret_ref") else None

    def secret_refs(self, org_id: str) -> list[str]:
        item = self._item(org_id)
        if not item:
            return []
        refs = [str(item["secret_ref"])] if item.get("secret_ref") else []
        return refs + [str(r) for r in item.get("past_secret_refs") or [] if str(r) not in refs]

    def disconnect(self, org_id: str, job: Job, at: str) -> PostalIntegration:
        current = self.get_integration(org_id, consistent=True)
        if current.status != IntegrationStatus.CONNECTED:
            raise Conflict("the postal integration is not connected", code="integration_not_connected")
        changed = {
            "status": IntegrationStatus.DISCONNECTED.value,
            "disconnected_at": at,
            "generation": current.generation + 1,
            "last_job_id": job.job_id,
        }
        pk = keys.org_pk(org_id)
        try:
            with self.table.transaction():
                self.table.update(pk, keys.INTEGRATION_SK, lambda i: _disconnected(i, current.generation, changed))
                if (pk, keys.job_sk(job.job_id)) in self.table.items:
                    raise ConditionFailed(1)
                self.table.put({"PK": pk, "SK": keys.job_sk(job.job_id), **dump(job)})
        except ConditionFailed as exc:
            raise Conflict("the integration changed meanwhile; retry", code="integration_changed") from exc
        return current.model_copy(update=changed | {"status": IntegrationStatus.DISCONNECTED})


def _disconnected(item: Item, generation: int, changed: Item) -> Item | None:
    if item.get("status") != IntegrationStatus.CONNECTED.value or item.get("generation") != generation:
        return None
    return {**item, **changed}

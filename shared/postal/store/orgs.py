"""Orgs and their API keys (the key's item holds only its hash).

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import ClientError

from postal.errors import Conflict, NotFound
from postal.models import (
    Org,
    PostalIntegration,
)
from postal.store import keys
from postal.store.api_keys import ApiKeys
from postal.store.dynamo import (
    Item,
    deserialize,
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.table import Table, dump


def _api_key_item(key_hash: str, org_id: str, at: str) -> Item:
    """The item an API key is looked up by (its hash only), naming its org."""
    return {"PK": keys.api_key_pk(key_hash), "SK": keys.API_KEY_SK, "org_id": org_id, "created_at": at}


class OrgRepository(Table):
    """Orgs and their API keys (the key's item holds only its hash)."""

    def create_org(self, org: Org, key_hash: str, *, request_token: str | None = None) -> None:
        """Org, its API key (by hash only) and its disconnected integration, all or nothing. `request_token` (from
        the request's Idempotency-Key) makes a retried call that already committed succeed again."""
        pk = keys.org_pk(org.org_id)
        items = [
            {"PK": pk, "SK": keys.ORG_SK, "GSI3PK": keys.ALL_ORGS_GSI3, "GSI3SK": org.org_id, **dump(org)},
            _api_key_item(key_hash, org.org_id, org.created_at),
            {"PK": pk, "SK": keys.ORG_API_KEY_SK, "key_hash": key_hash, "created_at": org.created_at},
            {"PK": pk, "SK": keys.INTEGRATION_SK, **dump(PostalIntegration(org_id=org.org_id))},
        ]
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize(item),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    }
                    for item in items
                ],
                **({"ClientRequestToken": request_token} if request_token else {}),
            )
        except ClientError as exc:
            mismatch = exc.response.get("Error", {}).get("Code") == "IdempotentParameterMismatchException"
            if is_conditional_failure(exc) or mismatch:
                raise Conflict(f"organisation '{org.org_id}' already exists", code="org_exists") from exc
            raise translate(exc) from exc

    def get_org(self, org_id: str, *, consistent: bool = False) -> Org:
        org = self.find_org(org_id, consistent=consistent)
        if org is None:
            raise NotFound(f"organisation '{org_id}' not found")
        return org

    def find_org(self, org_id: str, *, consistent: bool = False) -> Org | None:
        item = self._get(keys.org_pk(org_id), keys.ORG_SK, consistent=consistent)
        return Org.model_validate(item) if item else None

    def update_org(self, org: Org, seen_updated_at: str | None) -> None:
        """Replace the org item (its GSI3 keys kept), if nobody changed it since it was read at `seen_updated_at`."""
        item = {"PK": keys.org_pk(org.org_id), "SK": keys.ORG_SK, "GSI3PK": keys.ALL_ORGS_GSI3, "GSI3SK": org.org_id}
        if seen_updated_at is None:
            condition, values = "attribute_exists(PK) AND attribute_not_exists(updated_at)", {}
        else:
            condition, values = "updated_at = :seen", {":seen": seen_updated_at}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize({**item, **dump(org)}),
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": serialize(values)} if values else {}),
            )
        except ClientError as exc:
            raise translate(exc, "the organisation changed concurrently; read it again and retry") from exc

    def rotate_api_key(self, org_id: str, new_hash: str, at: str) -> None:
        """Replace the org's API key: the new key's item, the org's pointer to it and the old key's removal commit
        together, conditioned on the pointer still naming the old key (two rotations cannot both win)."""
        pk = keys.org_pk(org_id)
        pointer = self._get(pk, keys.ORG_API_KEY_SK, consistent=True)
        if pointer is None:
            self.get_org(org_id)  # 404 when there is no such org
            raise Conflict(f"organisation '{org_id}' has no rotatable API key", code="api_key_not_rotatable")
        old_hash = str(pointer["key_hash"])
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize(_api_key_item(new_hash, org_id, at)),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": serialize({"PK": pk, "SK": keys.ORG_API_KEY_SK}),
                            "UpdateExpression": "SET key_hash = :new, rotated_at = :at",
                            "ConditionExpression": "key_hash = :old",
                            "ExpressionAttributeValues": serialize({":new": new_hash, ":old": old_hash, ":at": at}),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": serialize({"PK": keys.api_key_pk(old_hash), "SK": keys.API_KEY_SK}),
                        }
                    },
                ]
            )
        except ClientError as exc:
            raise translate(exc, "the API key was rotated concurrently; retry") from exc

    def org_for_key(self, key_hash: str, *, consistent: bool = False) -> str | None:
        """The org an API key (by its hash) belongs to; None for an unknown or revoked key."""
        return ApiKeys(self.client, self.table).org_for_key(key_hash, consistent=consistent)

    def iter_org_ids(self) -> Iterator[str]:
        """Every org (GSI3 `ORGS`), for the nightly fan-out."""
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            IndexName="GSI3",
            KeyConditionExpression="GSI3PK = :pk",
            ExpressionAttributeValues=serialize({":pk": keys.ALL_ORGS_GSI3}),
        ):
            for raw in page.get("Items", []):
                yield str(deserialize(raw)["GSI3SK"])

"""The org's postal integration: connect, disconnect (with the cascade job), its secrets' references.

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from postal.errors import Conflict, NotFound
from postal.models import (
    IntegrationStatus,
    Job,
    PostalIntegration,
)
from postal.store import keys
from postal.store.dynamo import (
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.table import Table, dump


class IntegrationRepository(Table):
    """The org's postal integration: connect, disconnect (with the cascade job), its secrets' references."""

    def get_integration(self, org_id: str, *, consistent: bool = False) -> PostalIntegration:
        item = self._get(keys.org_pk(org_id), keys.INTEGRATION_SK, consistent=consistent)
        if not item:
            raise NotFound(f"organisation '{org_id}' not found")
        return PostalIntegration.model_validate(item)

    def connect(self, integration: PostalIntegration, expected_generation: int) -> None:
        """Flip to connected, only from the generation the caller previewed (no lost updates)."""
        item = {"PK": keys.org_pk(integration.org_id), "SK": keys.INTEGRATION_SK, **dump(integration)}
        item["secret_ref"] = integration.secret_ref
        if integration.past_secret_refs:
            item["past_secret_refs"] = integration.past_secret_refs
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(item),
                ConditionExpression="#s = :disc AND generation = :gen",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {":disc": IntegrationStatus.DISCONNECTED.value, ":gen": expected_generation}
                ),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise Conflict("the integration changed meanwhile; retry", code="integration_changed") from exc
            raise translate(exc) from exc

    def secret_ref(self, org_id: str, *, consistent: bool = True) -> str | None:
        item = self._get(keys.org_pk(org_id), keys.INTEGRATION_SK, consistent=consistent)
        return str(item["secret_ref"]) if item and item.get("secret_ref") else None

    def secret_refs(self, org_id: str) -> list[str]:
        """The current connection's secret first, then earlier ones (newest first); empty for an unknown org."""
        item = self._get(keys.org_pk(org_id), keys.INTEGRATION_SK, consistent=True)
        if not item:
            return []
        refs = [str(item["secret_ref"])] if item.get("secret_ref") else []
        return refs + [str(r) for r in item.get("past_secret_refs") or [] if str(r) not in refs]

    def disconnect(self, org_id: str, job: Job, at: str) -> PostalIntegration:
        """Atomically: integration connected -> disconnected (new generation) and the cascade job created."""
        current = self.get_integration(org_id, consistent=True)
        if current.status != IntegrationStatus.CONNECTED:
            raise Conflict("the postal integration is not connected", code="integration_not_connected")
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.INTEGRATION_SK}),
                            "UpdateExpression": "SET #s = :disc, disconnected_at = :at, generation = :next, "
                            "last_job_id = :job",
                            "ConditionExpression": "#s = :conn AND generation = :gen",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": serialize(
                                {
                                    ":disc": IntegrationStatus.DISCONNECTED.value,
                                    ":conn": IntegrationStatus.CONNECTED.value,
                                    ":at": at,
                                    ":gen": current.generation,
                                    ":next": current.generation + 1,
                                    ":job": job.job_id,
                                }
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job.job_id), **dump(job)}),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise Conflict("the integration changed meanwhile; retry", code="integration_changed") from exc
            raise translate(exc) from exc
        return current.model_copy(
            update={
                "status": IntegrationStatus.DISCONNECTED,
                "disconnected_at": at,
                "generation": current.generation + 1,
                "last_job_id": job.job_id,
            }
        )

"""Repository for orgs, API keys, the postal integration, templates, customers, steps, invoices, jobs and tasks.

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
Writes that depend on the integration's state are transactions with a condition on the integration item, so a
disconnect and a write that sets `post` can never both win.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from postal.errors import Conflict, NotFound
from postal.models import (
    CollectionStep,
    Customer,
    CustomPdf,
    IntegrationStatus,
    InvoiceRecord,
    Job,
    JobFailure,
    JobStatus,
    Org,
    PostalIntegration,
    StepAction,
    Task,
    TaskQuery,
    Template,
    TemplateCheck,
)
from postal.store import keys
from postal.store.api_keys import ApiKeys
from postal.store.dynamo import (
    Item,
    decode_cursor,
    deserialize,
    encode_cursor,
    is_conditional_failure,
    serialize,
    serialize_value,
    translate,
)

TRANSACTION_LIMIT = 100  # items in one TransactWriteItems


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _api_key_item(key_hash: str, org_id: str, at: str) -> Item:
    """The item an API key is looked up by (its hash only), naming its org."""
    return {"PK": keys.api_key_pk(key_hash), "SK": keys.API_KEY_SK, "org_id": org_id, "created_at": at}


class NotConnected(Conflict):
    code = "integration_not_connected"


class Records:
    """DynamoDB-backed repository. `client` is a boto3 DynamoDB client (real AWS or moto)."""

    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table = table_name

    # ------------------------------------------------------------------ generic
    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> Item | None:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize({"PK": pk, "SK": sk}), ConsistentRead=consistent
        )
        raw = resp.get("Item")
        return deserialize(raw) if raw else None

    def _put(self, item: Item, condition: str | None = None, names: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": serialize(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            self.client.put_item(**kwargs)
        except ClientError as exc:
            raise translate(exc) from exc

    def _integration_condition(self, org_id: str) -> dict[str, Any]:
        """A transaction item that holds only while the org's postal integration is connected."""
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.INTEGRATION_SK}),
                "ConditionExpression": "#s = :connected",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":connected": serialize_value(IntegrationStatus.CONNECTED.value)},
            }
        }

    def _put_requiring_connected(self, org_id: str, item: Item, what: str = "post") -> None:
        try:
            self.client.transact_write_items(
                TransactItems=[
                    self._integration_condition(org_id),
                    {"Put": {"TableName": self.table, "Item": serialize(item)}},
                ]
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotConnected(
                    f"{what} needs the postal integration to be connected",
                    fix="connect the postal integration first (POST .../integrations/postal/connect)",
                ) from exc
            raise translate(exc) from exc

    def _query_page(
        self, *, index: str | None, pk_name: str, pk: str, limit: int, cursor: str | None, sk_prefix: str | None = None
    ) -> tuple[list[Item], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk" + (" AND begins_with(#sk, :prefix)" if sk_prefix else ""),
            "ExpressionAttributeNames": {"#pk": pk_name, **({"#sk": "SK"} if sk_prefix else {})},
            "ExpressionAttributeValues": serialize({":pk": pk, **({":prefix": sk_prefix} if sk_prefix else {})}),
            "Limit": limit,
        }
        if index:
            kwargs["IndexName"] = index
        index_keys = [pk_name, pk_name.removesuffix("PK") + "SK"] if index else []
        start = decode_cursor(cursor, expected_pk=pk, key_names=["PK", "SK", *index_keys])
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self.client.query(**kwargs)
        return [deserialize(i) for i in resp.get("Items", [])], encode_cursor(resp.get("LastEvaluatedKey"))

    def count(self, *, index: str, pk_name: str, pk: str) -> int:
        """Number of items in one GSI partition (paged COUNT query; used for impact reports and job totals)."""
        total = 0
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            IndexName=index,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": pk_name},
            ExpressionAttributeValues=serialize({":pk": pk}),
            Select="COUNT",
        ):
            total += page.get("Count", 0)
        return total

    def _job_tick(self, org_id: str, job_id: str, counter: str, n: int = 1) -> dict[str, Any]:
        """A transaction item counting `n` changes on a job: a change and its count commit together."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                "UpdateExpression": "ADD #d :n, counts.#c :n",
                "ExpressionAttributeNames": {"#d": "done", "#c": counter},
                "ExpressionAttributeValues": serialize({":n": n}),
            }
        }

    def _transact_counted(self, org_id: str, job_id: str, counter: str, changes: list[list[dict[str, Any]]]) -> int:
        """Commit many conditional changes with their count on the job, as few transactions as the limit allows.

        Each change is a group of transaction items whose first is conditional (the others go with it). A change
        whose condition fails is dropped and the rest retried, so the job counts exactly the changes that
        committed, each once, however often a page runs. Returns that number.
        """
        changed = 0
        chunk: list[list[dict[str, Any]]] = []
        size = 1  # the job tick
        for change in changes:
            if size + len(change) > TRANSACTION_LIMIT:
                changed += self._commit_counted(org_id, job_id, counter, chunk)
                chunk, size = [], 1
            chunk.append(change)
            size += len(change)
        if chunk:
            changed += self._commit_counted(org_id, job_id, counter, chunk)
        return changed

    def _commit_counted(self, org_id: str, job_id: str, counter: str, changes: list[list[dict[str, Any]]]) -> int:
        pending = changes
        while pending:  # each round drops at least one change, so it ends
            items = [item for change in pending for item in change]
            try:
                self.client.transact_write_items(
                    TransactItems=[*items, self._job_tick(org_id, job_id, counter, len(pending))]
                )
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise translate(exc) from exc
                reasons = exc.response["CancellationReasons"]
                starts = itertools.accumulate((len(change) for change in pending), initial=0)
                pending = [
                    change
                    for change, start in zip(pending, starts, strict=False)
                    if reasons[start].get("Code") != "ConditionalCheckFailed"
                ]
                continue
            return len(pending)
        return 0

    def _transact_if(self, items: list[dict[str, Any]]) -> bool:
        """Run a transaction whose first item is conditional; False (no change) when the condition fails."""
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    # ------------------------------------------------------------------ orgs and keys
    def create_org(self, org: Org, key_hash: str, *, request_token: str | None = None) -> None:
        """Org, its API key (by hash only) and its disconnected integration, all or nothing. `request_token` (from
        the request's Idempotency-Key) makes a retried call that already committed succeed again."""
        pk = keys.org_pk(org.org_id)
        items = [
            {"PK": pk, "SK": keys.ORG_SK, "GSI3PK": keys.ALL_ORGS_GSI3, "GSI3SK": org.org_id, **_dump(org)},
            _api_key_item(key_hash, org.org_id, org.created_at),
            {"PK": pk, "SK": keys.ORG_API_KEY_SK, "key_hash": key_hash, "created_at": org.created_at},
            {"PK": pk, "SK": keys.INTEGRATION_SK, **_dump(PostalIntegration(org_id=org.org_id))},
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
                Item=serialize({**item, **_dump(org)}),
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

    # ------------------------------------------------------------------ integration
    def get_integration(self, org_id: str, *, consistent: bool = False) -> PostalIntegration:
        item = self._get(keys.org_pk(org_id), keys.INTEGRATION_SK, consistent=consistent)
        if not item:
            raise NotFound(f"organisation '{org_id}' not found")
        return PostalIntegration.model_validate(item)

    def connect(self, integration: PostalIntegration, expected_generation: int) -> None:
        """Flip to connected, only from the generation the caller previewed (no lost updates)."""
        item = {"PK": keys.org_pk(integration.org_id), "SK": keys.INTEGRATION_SK, **_dump(integration)}
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
                            "Item": serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job.job_id), **_dump(job)}),
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

    # ------------------------------------------------------------------ templates
    def put_template(self, org_id: str, template: Template, *, requires_connected: bool) -> None:
        item = {"PK": keys.org_pk(org_id), "SK": keys.template_sk(template.template_id), **_dump(template)}
        if requires_connected:
            self._put_requiring_connected(org_id, item)
        else:
            self._put(item)

    def get_template(self, org_id: str, template_id: str) -> Template:
        item = self._get(keys.org_pk(org_id), keys.template_sk(template_id))
        if not item:
            raise NotFound(f"template '{template_id}' not found")
        return Template.model_validate(item)

    def find_template(self, org_id: str, template_id: str) -> Template | None:
        item = self._get(keys.org_pk(org_id), keys.template_sk(template_id))
        return Template.model_validate(item) if item else None

    def list_templates(self, org_id: str) -> list[Template]:
        """All templates of an org (a handful: one per kind of document)."""
        items: list[Template] = []
        cursor: str | None = None
        while True:
            page, cursor = self._query_page(
                index=None, pk_name="PK", pk=keys.org_pk(org_id), sk_prefix="TEMPLATE#", limit=100, cursor=cursor
            )
            items.extend(Template.model_validate(i) for i in page)
            if not cursor:
                return items

    def revert_template_post(self, org_id: str, template_id: str, at: str, job_id: str) -> bool:
        """post -> email, only if it is still post (safe to repeat), counted on the job. True when it changed."""
        return self._transact_if(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.template_sk(template_id)}),
                        "UpdateExpression": "SET default_channel = :email, updated_at = :at",
                        "ConditionExpression": "default_channel = :post",
                        "ExpressionAttributeValues": serialize({":email": "email", ":post": "post", ":at": at}),
                    }
                },
                self._job_tick(org_id, job_id, "templates"),
            ]
        )

    def set_template_pdf(self, org_id: str, template_id: str, pdf: CustomPdf, at: str, *, keep_check: bool) -> Template:
        """Attach an uploaded custom PDF to an existing template without rewriting its other settings.

        An update (not a put) so a concurrent settings change is not lost; the stored check is dropped unless the
        caller says it was made for these very bytes.
        """
        expression = "SET custom_pdf = :pdf, updated_at = :at" + ("" if keep_check else " REMOVE #chk")
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.template_sk(template_id)}),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": serialize({":pdf": _dump(pdf), ":at": at}),
            "ReturnValues": "ALL_NEW",
        }
        if not keep_check:
            kwargs["ExpressionAttributeNames"] = {"#chk": "check"}
        try:
            resp = self.client.update_item(**kwargs)
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotFound(f"template '{template_id}' not found") from exc
            raise translate(exc) from exc
        return Template.model_validate(deserialize(resp["Attributes"]))

    def set_template_check(self, org_id: str, template_id: str, check: TemplateCheck) -> Template:
        """Store a check result, only while the template still has the PDF that was checked.

        The condition on `custom_pdf.sha256` means a check that raced with a re-upload can never be recorded
        against the new bytes (it would unblock connect for a PDF nobody checked).
        """
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.template_sk(template_id)}),
                UpdateExpression="SET #chk = :check",
                ConditionExpression="custom_pdf.sha256 = :sha",
                ExpressionAttributeNames={"#chk": "check"},
                ExpressionAttributeValues=serialize({":check": _dump(check), ":sha": check.pdf_sha256}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise Conflict(
                    "the template's PDF changed while it was being checked",
                    code="template_pdf_changed",
                    fix="run the check again",
                ) from exc
            raise translate(exc) from exc
        return Template.model_validate(deserialize(resp["Attributes"]))

    # ------------------------------------------------------------------ customers
    def put_customer(self, org_id: str, customer: Customer, *, requires_connected: str | None) -> None:
        """`requires_connected` names what needs the integration (e.g. 'post'); None when nothing does."""
        item: Item = {"PK": keys.org_pk(org_id), "SK": keys.customer_sk(customer.customer_id), **_dump(customer)}
        if customer.preference == "post" or customer.paper_invoice:
            # Sparse GSI1: only customers with a postal preference (post, paper invoices) are indexed, so the
            # disconnect cascade reads just those.
            item["GSI1PK"] = keys.post_customers_gsi1(org_id)
            item["GSI1SK"] = customer.customer_id
        if requires_connected:
            self._put_requiring_connected(org_id, item, requires_connected)
        else:
            self._put(item)

    def get_customer(self, org_id: str, customer_id: str) -> Customer:
        item = self._get(keys.org_pk(org_id), keys.customer_sk(customer_id))
        if not item:
            raise NotFound(f"customer '{customer_id}' not found")
        return Customer.model_validate(item)

    def postal_customers(self, org_id: str, limit: int) -> list[tuple[str, bool]]:
        """The first `limit` customers with a postal preference, each with whether its preference is post (the
        others get paper invoices); sparse GSI1, which shrinks as the cascade resets them."""
        resp = self.client.query(
            TableName=self.table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=serialize({":pk": keys.post_customers_gsi1(org_id)}),
            ProjectionExpression="GSI1SK, preference",
            Limit=limit,
        )
        items = [deserialize(i) for i in resp.get("Items", [])]
        return [(str(i["GSI1SK"]), i.get("preference") == "post") for i in items]

    def count_post_customers(self, org_id: str) -> int:
        """Customers with a postal preference (post, or paper invoices): what the cascade resets."""
        return self.count(index="GSI1", pk_name="GSI1PK", pk=keys.post_customers_gsi1(org_id))

    def count_postal_preferences(self, org_id: str) -> tuple[int, int]:
        """(customers whose preference is post, customers who get paper invoices), for the impact report: COUNT
        queries over the same sparse partition, filtered."""
        counts = []
        for condition, values in (("preference = :v", {":v": "post"}), ("paper_invoice = :v", {":v": True})):
            total = 0
            for page in self.client.get_paginator("query").paginate(
                TableName=self.table,
                IndexName="GSI1",
                KeyConditionExpression="GSI1PK = :pk",
                FilterExpression=condition,
                ExpressionAttributeValues=serialize({":pk": keys.post_customers_gsi1(org_id), **values}),
                Select="COUNT",
            ):
                total += page.get("Count", 0)
            counts.append(total)
        return counts[0], counts[1]

    def clear_customers_post(self, org_id: str, customer_ids: list[str], at: str, job_id: str) -> int:
        """Reset the postal preferences of those still post (the preference is cleared, paper invoices switched
        off, the GSI1 entry removed), counted on the job; the number reset. Up to 99 customers a transaction."""
        return self._reset_customers(
            org_id,
            job_id,
            customer_ids,
            "REMOVE preference, GSI1PK, GSI1SK SET paper_invoice = :false, updated_at = :at",
            "preference = :post",
            {":post": "post", ":false": False, ":at": at},
        )

    def clear_customers_paper(self, org_id: str, customer_ids: list[str], at: str, job_id: str) -> int:
        """Switch off paper invoices of those that get them and are not post (their own email or SMS preference
        stays), counted on the job; the number reset."""
        return self._reset_customers(
            org_id,
            job_id,
            customer_ids,
            "REMOVE GSI1PK, GSI1SK SET paper_invoice = :false, updated_at = :at",
            "paper_invoice = :true AND (attribute_not_exists(preference) OR preference <> :post)",
            {":post": "post", ":true": True, ":false": False, ":at": at},
        )

    def _reset_customers(
        self, org_id: str, job_id: str, customer_ids: list[str], update: str, condition: str, values: dict[str, Any]
    ) -> int:
        return self._transact_counted(
            org_id,
            job_id,
            "customers",
            [
                [
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.customer_sk(customer_id)}),
                            "UpdateExpression": update,
                            "ConditionExpression": condition,
                            "ExpressionAttributeValues": serialize(values),
                        }
                    }
                ]
                for customer_id in dict.fromkeys(customer_ids)  # one operation per item in a transaction
            ],
        )

    # ------------------------------------------------------------------ collection steps
    def put_steps(self, org_id: str, steps: list[CollectionStep], at: str, *, requires_connected: bool) -> None:
        item = {
            "PK": keys.org_pk(org_id),
            "SK": keys.STEPS_SK,
            "steps": [_dump(s) for s in steps],
            "updated_at": at,
        }
        if requires_connected:
            self._put_requiring_connected(org_id, item)
        else:
            self._put(item)

    def get_steps(self, org_id: str, *, consistent: bool = False) -> tuple[list[CollectionStep], str | None]:
        item = self._get(keys.org_pk(org_id), keys.STEPS_SK, consistent=consistent)
        if not item:
            return [], None
        return [CollectionStep.model_validate(s) for s in item.get("steps", [])], item.get("updated_at")

    def steps_indexed(self, org_id: str, updated_at: str | None) -> bool:
        """Whether the open invoices' due index was derived from the steps of `updated_at` (a put of the steps
        replaces the item, which drops the mark)."""
        item = self._get(keys.org_pk(org_id), keys.STEPS_SK, consistent=True)
        if item is None:
            return True  # no steps were ever set: every invoice is already indexed as having none
        return bool(item.get("indexed_for")) and item.get("indexed_for") == updated_at

    def mark_steps_indexed(self, org_id: str, updated_at: str | None) -> None:
        """Record that the due index follows the steps of `updated_at`; nothing when they changed meanwhile."""
        if updated_at is None:
            return
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.STEPS_SK}),
                UpdateExpression="SET indexed_for = :u",
                ConditionExpression="updated_at = :u",
                ExpressionAttributeValues=serialize({":u": updated_at}),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def revert_steps_post(self, org_id: str, at: str, job_id: str) -> int:
        """Every step whose action is post becomes manual_intervention (optimistic lock on updated_at)."""
        for _ in range(5):
            steps, updated_at = self.get_steps(org_id)
            changed = [
                s.model_copy(update={"action": StepAction.MANUAL_INTERVENTION}) if s.action == "post" else s
                for s in steps
            ]
            n = sum(1 for s in steps if s.action == "post")
            if n == 0:
                return 0
            item = {
                "PK": keys.org_pk(org_id),
                "SK": keys.STEPS_SK,
                "steps": [_dump(s) for s in changed],
                "updated_at": at,
            }
            put = {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(item),
                    "ConditionExpression": "updated_at = :prev",
                    "ExpressionAttributeValues": serialize({":prev": updated_at}),
                }
            }
            if self._transact_if([put, self._job_tick(org_id, job_id, "steps", n)]):
                return n
        raise Conflict("collection steps keep changing; retry", code="concurrent_modification")

    # ------------------------------------------------------------------ invoices
    def _invoice_item(self, org_id: str, invoice: InvoiceRecord) -> Item:
        item: Item = {"PK": keys.org_pk(org_id), "SK": keys.invoice_sk(invoice.invoice_id), **_dump(invoice)}
        if invoice.status == "open":
            # Sparse GSI1: every open invoice, so a change of the steps can re-index them without a scan.
            item["GSI1PK"] = keys.open_invoices_gsi1(org_id)
            item["GSI1SK"] = invoice.invoice_id
        if invoice.status == "open" and invoice.next_due is not None:
            # Sparse GSI2: only open invoices with a step still to run are due candidates for the nightly run.
            item["GSI2PK"] = keys.invoices_due_gsi2(org_id)
            item["GSI2SK"] = f"{invoice.next_due.isoformat()}#{invoice.invoice_id}"
        return item

    def put_invoice(self, org_id: str, invoice: InvoiceRecord) -> None:
        self._put(self._invoice_item(org_id, invoice))

    def get_invoice(self, org_id: str, invoice_id: str, *, consistent: bool = False) -> InvoiceRecord:
        item = self._get(keys.org_pk(org_id), keys.invoice_sk(invoice_id), consistent=consistent)
        if not item:
            raise NotFound(f"invoice '{invoice_id}' not found")
        return InvoiceRecord.model_validate(item)

    def open_invoices(
        self, org_id: str, limit: int, cursor: str | None
    ) -> tuple[list[InvoiceRecord], list[str], str | None]:
        """One page of the org's open invoices (sparse GSI1): the readable ones, the ids of those no model accepts
        (data stored before today's bounds; one such invoice must not stop the page), and the next cursor."""
        items, next_cursor = self._query_page(
            index="GSI1", pk_name="GSI1PK", pk=keys.open_invoices_gsi1(org_id), limit=limit, cursor=cursor
        )
        readable: list[InvoiceRecord] = []
        unreadable: list[str] = []
        for item in items:
            try:
                readable.append(InvoiceRecord.model_validate(item))
            except ValidationError:
                unreadable.append(str(item.get("invoice_id", item.get("SK", ""))))
        return readable, unreadable, next_cursor

    def set_next_step(self, org_id: str, invoice: InvoiceRecord, reindexed: InvoiceRecord) -> bool:
        """Move an invoice's next step (and its place in the due index), if nobody changed the invoice since it was
        read; False when somebody did (that writer derived the next step itself)."""
        due = reindexed.next_due
        values: dict[str, Any] = {":seen": invoice.updated_at, ":open": "open"}
        if due is not None and reindexed.next_step_id is not None:
            expression = "SET next_step_id = :step, next_due = :due, GSI2PK = :gsi2, GSI2SK = :gsi2sk"
            values |= {
                ":step": reindexed.next_step_id,
                ":due": due.isoformat(),
                ":gsi2": keys.invoices_due_gsi2(org_id),
                ":gsi2sk": f"{due.isoformat()}#{invoice.invoice_id}",
            }
        else:
            expression = "REMOVE next_step_id, next_due, GSI2PK, GSI2SK"
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.invoice_sk(invoice.invoice_id)}),
                UpdateExpression=expression,
                ConditionExpression="updated_at = :seen AND #s = :open",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    def due_invoice_ids(self, org_id: str, today: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        """Open invoices whose next step is due on or before `today` (sparse GSI2, oldest first)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "GSI2",
            "KeyConditionExpression": "GSI2PK = :pk AND GSI2SK <= :upto",
            # "~" sorts after every id character, so the whole of `today` is included.
            "ExpressionAttributeValues": serialize({":pk": keys.invoices_due_gsi2(org_id), ":upto": f"{today}#~"}),
            "ProjectionExpression": "invoice_id",
            "Limit": limit,
        }
        start = decode_cursor(
            cursor, expected_pk=keys.invoices_due_gsi2(org_id), key_names=["PK", "SK", "GSI2PK", "GSI2SK"]
        )
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self.client.query(**kwargs)
        ids = [str(deserialize(i)["invoice_id"]) for i in resp.get("Items", [])]
        return ids, encode_cursor(resp.get("LastEvaluatedKey"))

    def claim_step(self, org_id: str, invoice: InvoiceRecord, advanced: InvoiceRecord, run: dict[str, Any]) -> bool:
        """Exactly once per (invoice, step id): record the run and move the invoice past the step, atomically.

        The run record's key is the step's id, so its non-existence is the guarantee: a duplicate firing, a retry,
        a concurrent run or an edit of the sequence can never run a step twice. The invoice update (only while it
        is open) adds the step to its history and moves it in the due index; False when the step already ran.
        """
        org_pk = keys.org_pk(org_id)
        step_id = str(run["step_id"])
        run_item = {
            "PK": org_pk,
            "SK": keys.step_run_sk(invoice.invoice_id, step_id),
            "GSI2PK": keys.pending_runs_gsi2(org_id),
            "GSI2SK": f"{run['claimed_at']}#{invoice.invoice_id}",
            **run,
        }
        due = advanced.next_due
        values: dict[str, Any] = {":ran": [step_id], ":none": [], ":open": "open", ":at": advanced.updated_at}
        if due is not None and advanced.next_step_id is not None:
            expression = (
                "SET steps_run = list_append(if_not_exists(steps_run, :none), :ran), updated_at = :at, "
                "next_step_id = :step, next_due = :due, GSI2PK = :gsi2, GSI2SK = :gsi2sk"
            )
            values |= {
                ":step": advanced.next_step_id,
                ":due": due.isoformat(),
                ":gsi2": keys.invoices_due_gsi2(org_id),
                ":gsi2sk": f"{due.isoformat()}#{invoice.invoice_id}",
            }
        else:
            expression = (
                "SET steps_run = list_append(if_not_exists(steps_run, :none), :ran), updated_at = :at "
                "REMOVE next_step_id, next_due, GSI2PK, GSI2SK"
            )
        return self._transact_if(
            [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": serialize(run_item),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": serialize({"PK": org_pk, "SK": keys.invoice_sk(invoice.invoice_id)}),
                        "UpdateExpression": expression,
                        "ConditionExpression": "#s = :open",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": serialize(values),
                    }
                },
            ]
        )

    def finish_step_run(self, org_id: str, invoice_id: str, step_id: str, outcome: dict[str, Any]) -> None:
        """Mark a run done (it leaves the pending partition) with what it did."""
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.step_run_sk(invoice_id, step_id)}),
            UpdateExpression="SET #s = :done, outcome = :outcome REMOVE GSI2PK, GSI2SK",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize({":done": "done", ":outcome": outcome}),
        )

    def fail_step_run(self, org_id: str, invoice_id: str, step_id: str, error: str) -> int:
        """Keep the run pending with its last error (nightly-reconciliation retries it); its number of attempts."""
        resp = self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.step_run_sk(invoice_id, step_id)}),
            UpdateExpression="SET last_error = :err ADD attempts :one",
            ExpressionAttributeValues=serialize({":err": error, ":one": 1}),
            ReturnValues="UPDATED_NEW",
        )
        return int(deserialize(resp["Attributes"])["attempts"])

    def give_up_step_run(self, org_id: str, invoice_id: str, step_id: str, error: str, task_id: str) -> None:
        """A run that kept failing leaves the pending partition (reconciliation stops retrying it); a person
        finishes it through the task."""
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.step_run_sk(invoice_id, step_id)}),
            UpdateExpression="SET #s = :gave_up, last_error = :err, task_id = :task REMOVE GSI2PK, GSI2SK",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize({":gave_up": "gave_up", ":err": error, ":task": task_id}),
        )

    def pending_step_runs(self, org_id: str, limit: int) -> list[dict[str, Any]]:
        resp = self.client.query(
            TableName=self.table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues=serialize({":pk": keys.pending_runs_gsi2(org_id)}),
            Limit=limit,
        )
        return [deserialize(i) for i in resp.get("Items", [])]

    def get_step_run(self, org_id: str, invoice_id: str, step_id: str) -> dict[str, Any] | None:
        return self._get(keys.org_pk(org_id), keys.step_run_sk(invoice_id, step_id), consistent=True)

    def ensure_job(self, job: Job) -> Job:
        """Create the job unless it exists (a second firing of the same nightly run reuses it)."""
        item = {"PK": keys.org_pk(job.org_id), "SK": keys.job_sk(job.job_id), **_dump(job)}
        try:
            self.client.put_item(
                TableName=self.table, Item=serialize(item), ConditionExpression="attribute_not_exists(PK)"
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc
            return self.get_job(job.org_id, job.job_id, consistent=True)
        return job

    def add_job_done(self, org_id: str, job_id: str, counter: str, n: int = 1) -> None:
        """Count `n` finished items on a job outside a transaction (the change itself is idempotent)."""
        self.client.update_item(**self._job_tick(org_id, job_id, counter, n)["Update"])

    # ------------------------------------------------------------------ jobs
    def start_firing(self, job: Job, at: str) -> None:
        """One firing of a dated job (e.g. `nightly-{date}`) begins: the job is created by the first, and every
        firing sets it running again, so its totals and times cover them all. `active` counts firings at work."""
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(job.org_id), "SK": keys.job_sk(job.job_id)}),
            UpdateExpression="SET #s = :running, updated_at = :at, job_id = :id, org_id = :org, kind = :kind, "
            "started_at = if_not_exists(started_at, :at), #t = if_not_exists(#t, :zero), "
            "done = if_not_exists(done, :zero), counts = if_not_exists(counts, :counts) "
            "ADD firings :one, active :one REMOVE finished_at",
            ExpressionAttributeNames={"#s": "status", "#t": "total"},
            ExpressionAttributeValues=serialize(
                {
                    ":running": JobStatus.RUNNING.value,
                    ":at": at,
                    ":id": job.job_id,
                    ":org": job.org_id,
                    ":kind": job.kind,
                    ":counts": job.counts,
                    ":zero": 0,
                    ":one": 1,
                }
            ),
        )

    def add_job_total(self, org_id: str, job_id: str, n: int, at: str) -> None:
        """A firing found `n` more items for the job."""
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
            UpdateExpression="SET updated_at = :at ADD #t :n",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues=serialize({":n": n, ":at": at}),
        )

    def tick_job(self, org_id: str, job_id: str, counter: str, at: str) -> None:
        """One item of a firing is done (`counter` says how), with the time it was."""
        update = self._job_tick(org_id, job_id, counter)["Update"]
        update["UpdateExpression"] += " SET updated_at = :at"
        update["ExpressionAttributeValues"] = serialize({":n": 1, ":at": at})
        self.client.update_item(**update)

    def add_job_failure(self, org_id: str, job_id: str, failure: JobFailure, cap: int = 50) -> None:
        """Keep the reason of a failure on the job (the first `cap` of them; the counts go on beyond)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET failures = list_append(if_not_exists(failures, :none), :f), updated_at = :at",
                ConditionExpression="attribute_not_exists(failures) OR size(failures) < :cap",
                ExpressionAttributeValues=serialize(
                    {":none": [], ":f": [_dump(failure)], ":cap": cap, ":at": failure.at}
                ),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def finish_firing(self, org_id: str, job_id: str, at: str, *, failed: bool = False) -> None:
        """A firing ends; the last one at work completes the job (or marks it failed when this firing failed)."""
        key = serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)})
        resp = self.client.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="SET updated_at = :at ADD active :minus",
            ExpressionAttributeValues=serialize({":at": at, ":minus": -1}),
            ReturnValues="UPDATED_NEW",
        )
        if int(deserialize(resp["Attributes"]).get("active", 0)) > 0 and not failed:
            return  # another firing is still at work: it completes the job
        status = JobStatus.FAILED if failed else JobStatus.COMPLETED
        values: dict[str, Any] = {":status": status.value, ":at": at}
        kwargs: dict[str, Any] = {}
        if not failed:  # a failure shows at once; a completion waits for the last firing at work
            kwargs = {"ConditionExpression": "active <= :zero"}
            values[":zero"] = 0
        try:
            self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #s = :status, finished_at = :at, updated_at = :at",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(values),
                **kwargs,
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def get_job(self, org_id: str, job_id: str, *, consistent: bool = False) -> Job:
        item = self._get(keys.org_pk(org_id), keys.job_sk(job_id), consistent=consistent)
        if not item:
            raise NotFound(f"job '{job_id}' not found")
        return Job.model_validate(item)

    def running_job(self, org_id: str, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        item = self._get(keys.org_pk(org_id), keys.job_sk(job_id), consistent=True)
        job = Job.model_validate(item) if item else None
        return job if job and job.status == JobStatus.RUNNING else None

    def set_job_phase(self, org_id: str, job_id: str, phase: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
            UpdateExpression="SET phase = :phase",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=serialize({":phase": phase}),
        )

    def set_job_total(self, org_id: str, job_id: str, total: int, counts: dict[str, int]) -> None:
        """Set once, by the first page; later duplicates leave it alone."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET #t = :total, counts = :counts",
                ConditionExpression="attribute_not_exists(#t)",
                ExpressionAttributeNames={"#t": "total"},
                ExpressionAttributeValues=serialize({":total": total, ":counts": counts}),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def add_submitted_after_disconnect(self, org_id: str, job_id: str, letter_id: str) -> None:
        """List a letter on the disconnect job (once; bounded at 1000 entries, the rest is in the letters)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET #l = list_append(if_not_exists(#l, :empty), :one)",
                ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(#l) OR "
                "(NOT contains(#l, :id) AND size(#l) < :cap))",
                ExpressionAttributeNames={"#l": "submitted_after_disconnect"},
                ExpressionAttributeValues=serialize(
                    {":empty": [], ":one": [letter_id], ":id": letter_id, ":cap": 1000}
                ),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def finish_job(self, org_id: str, job_id: str, at: str) -> bool:
        """running -> completed, once. True for the worker that finished it."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET #s = :done, finished_at = :at, updated_at = :at, phase = :phase",
                ConditionExpression="#s = :running",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":done": JobStatus.COMPLETED.value,
                        ":running": JobStatus.RUNNING.value,
                        ":at": at,
                        ":phase": "done",
                    }
                ),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

    # ------------------------------------------------------------------ letters not yet with a provider
    def unsubmitted_letter_ids(self, org_id: str, status: str, limit: int) -> list[str]:
        """Letters still in `status` (created/rendered/queued), from their GSI2 status partition."""
        resp = self.client.query(
            TableName=self.table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues=serialize({":pk": keys.letters_by_status_gsi2(org_id, status)}),
            ProjectionExpression="letter_id",
            Limit=limit,
        )
        return [str(deserialize(i)["letter_id"]) for i in resp.get("Items", [])]

    def count_letters(self, org_id: str, status: str) -> int:
        return self.count(index="GSI2", pk_name="GSI2PK", pk=keys.letters_by_status_gsi2(org_id, status))

    def cancel_unsubmitted_letters(self, org_id: str, letter_ids: list[str], reason: str, at: str, job_id: str) -> int:
        """Cancel letters no provider has yet, each with its history entry, counted on the job; the number
        cancelled. A letter that moved on, or that a dispatch holds, is left alone. Up to 49 letters a transaction."""
        return self._transact_counted(
            org_id,
            job_id,
            "letters",
            [self._cancel_letter_items(org_id, lid, reason, at) for lid in dict.fromkeys(letter_ids)],
        )

    def _cancel_letter_items(self, org_id: str, letter_id: str, reason: str, at: str) -> list[dict[str, Any]]:
        pk = keys.org_pk(org_id)
        return [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": serialize({"PK": pk, "SK": keys.letter_sk(letter_id)}),
                    "UpdateExpression": "SET #s = :cancelled, status_reason = :reason, updated_at = :at, "
                    "GSI2PK = :gsi2, GSI2SK = :gsi2sk",
                    # A letter dispatch claimed (its claim was fenced by `connected`) was handed over before the
                    # disconnect committed: dispatch owns it, the cascade leaves it alone.
                    "ConditionExpression": "#s IN (:created, :rendered, :queued) "
                    "AND attribute_not_exists(claim_message)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": serialize(
                        {
                            ":cancelled": "cancelled",
                            ":reason": reason,
                            ":at": at,
                            ":gsi2": keys.letters_by_status_gsi2(org_id, "cancelled"),
                            ":gsi2sk": f"{at}#{letter_id}",
                            ":created": "created",
                            ":rendered": "rendered",
                            ":queued": "queued",
                        }
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": serialize(
                        {
                            "PK": pk,
                            "SK": f"{keys.letter_sk(letter_id)}#EVENT#{at}#cancelled",
                            "letter_id": letter_id,
                            "status": "cancelled",
                            "reason": reason,
                            "source": "postal-comms",
                            "occurred_at": at,
                        }
                    ),
                }
            },
        ]

    # ------------------------------------------------------------------ tasks
    def put_task(self, task: Task) -> None:
        item: Item = {"PK": keys.org_pk(task.org_id), "SK": keys.task_sk(task.task_id), **_dump(task)}
        item["GSI2PK"] = keys.tasks_gsi2(task.org_id, task.status)
        item["GSI2SK"] = f"{task.created_at}#{task.task_id}"
        self._put(item)

    def get_task(self, org_id: str, task_id: str) -> Task:
        item = self._get(keys.org_pk(org_id), keys.task_sk(task_id))
        if not item:
            raise NotFound(f"task '{task_id}' not found")
        return Task.model_validate(item)

    def find_task(self, org_id: str, task_id: str) -> Task | None:
        item = self._get(keys.org_pk(org_id), keys.task_sk(task_id))
        return Task.model_validate(item) if item else None

    def list_tasks(
        self, org_id: str, query: TaskQuery, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]:
        """One page of the org's tasks in one status (their GSI2 partition), created within the dates asked (a key
        condition); kind and customer filter the page read, so a page may hold fewer than `limit`."""
        pk = keys.tasks_gsi2(org_id, query.status)
        # GSI2SK is `{created_at}#{task_id}`: it sorts with its date, and a bare `created_to` sorts before every key
        # of that moment, so BETWEEN (and <) leave `created_to` itself out.
        key = "GSI2PK = :pk"
        values: dict[str, Any] = {":pk": pk}
        if query.created_from and query.created_to:
            key += " AND GSI2SK BETWEEN :from AND :to"
        elif query.created_from:
            key += " AND GSI2SK >= :from"
        elif query.created_to:
            key += " AND GSI2SK < :to"
        values |= {":from": query.created_from} if query.created_from else {}
        values |= {":to": query.created_to} if query.created_to else {}
        filters, names = [], {}
        if query.kind is not None:
            filters.append("#kind = :kind")
            names["#kind"] = "kind"
            values[":kind"] = query.kind.value
        if query.customer_id is not None:
            filters.append("customer_id = :customer")
            values[":customer"] = query.customer_id
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "GSI2",
            "KeyConditionExpression": key,
            "ExpressionAttributeValues": serialize(values),
            "Limit": limit,
        }
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        start = decode_cursor(cursor, expected_pk=pk, key_names=["PK", "SK", "GSI2PK", "GSI2SK"])
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self.client.query(**kwargs)
        items = [Task.model_validate(deserialize(i)) for i in resp.get("Items", [])]
        return items, encode_cursor(resp.get("LastEvaluatedKey"))

    # ------------------------------------------------------------------ returned mail (issue 5)
    def mark_address_returned(self, org_id: str, customer_id: str, at: str) -> bool:
        """Flag a customer's billing address as returned (postal steps pause); False for an unknown customer."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.customer_sk(customer_id)}),
                UpdateExpression="SET address_state = :returned, address_returned_at = :at",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=serialize({":returned": "returned", ":at": at}),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

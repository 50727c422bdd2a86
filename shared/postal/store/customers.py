"""Customers, the sparse index of those with a postal preference, and their reset by the disconnect cascade.

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.errors import NotFound
from postal.models import (
    Customer,
)
from postal.store import keys
from postal.store.dynamo import (
    Item,
    deserialize,
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.table import Table, dump


class CustomerRepository(Table):
    """Customers, the sparse index of those with a postal preference, and their reset by the disconnect cascade."""

    def put_customer(self, org_id: str, customer: Customer, *, requires_connected: str | None) -> None:
        """`requires_connected` names what needs the integration (e.g. 'post'); None when nothing does."""
        item: Item = {"PK": keys.org_pk(org_id), "SK": keys.customer_sk(customer.customer_id), **dump(customer)}
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

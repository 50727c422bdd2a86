"""Invoices with their due index (sparse GSI2) and open index (sparse GSI1).

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from postal.errors import NotFound
from postal.models import (
    InvoiceRecord,
)
from postal.store import keys
from postal.store.dynamo import (
    Item,
    decode_cursor,
    deserialize,
    encode_cursor,
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.table import Table, dump


def due_index_update(org_id: str, invoice_id: str, record: InvoiceRecord) -> tuple[list[str], list[str], Item]:
    """The SET and REMOVE clauses (and values) that place an invoice in the due index by its next step, or take it
    out when no step is left: the one place the due index's keys are derived."""
    due = record.next_due
    if due is None or record.next_step_id is None:
        return [], ["next_step_id", "next_due", "GSI2PK", "GSI2SK"], {}
    sets = ["next_step_id = :step", "next_due = :due", "GSI2PK = :gsi2", "GSI2SK = :gsi2sk"]
    values = {
        ":step": record.next_step_id,
        ":due": due.isoformat(),
        ":gsi2": keys.invoices_due_gsi2(org_id),
        ":gsi2sk": f"{due.isoformat()}#{invoice_id}",
    }
    return sets, [], values


def update_expression(sets: list[str], removes: list[str]) -> str:
    """`SET a, b REMOVE c, d` from its clauses (either may be empty)."""
    parts = [f"SET {', '.join(sets)}"] if sets else []
    if removes:
        parts.append(f"REMOVE {', '.join(removes)}")
    return " ".join(parts)


class InvoiceRepository(Table):
    """Invoices with their due index (sparse GSI2) and open index (sparse GSI1)."""

    def _invoice_item(self, org_id: str, invoice: InvoiceRecord) -> Item:
        item: Item = {"PK": keys.org_pk(org_id), "SK": keys.invoice_sk(invoice.invoice_id), **dump(invoice)}
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
        sets, removes, index_values = due_index_update(org_id, invoice.invoice_id, reindexed)
        expression = update_expression(sets, removes)
        values: dict[str, Any] = {":seen": invoice.updated_at, ":open": "open", **index_values}
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

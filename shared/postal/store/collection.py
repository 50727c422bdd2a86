"""The org's collection steps and the runs of a step on an invoice (exactly once per step id).

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.errors import Conflict
from postal.models import (
    CollectionStep,
    InvoiceRecord,
    StepAction,
)
from postal.store import keys
from postal.store.dynamo import (
    deserialize,
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.invoices import due_index_update, update_expression
from postal.store.table import Table, dump


class CollectionRepository(Table):
    """The org's collection steps and the runs of a step on an invoice (exactly once per step id)."""

    def put_steps(self, org_id: str, steps: list[CollectionStep], at: str, *, requires_connected: bool) -> None:
        item = {
            "PK": keys.org_pk(org_id),
            "SK": keys.STEPS_SK,
            "steps": [dump(s) for s in steps],
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
                "steps": [dump(s) for s in changed],
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
        sets, removes, index_values = due_index_update(org_id, invoice.invoice_id, advanced)
        sets = ["steps_run = list_append(if_not_exists(steps_run, :none), :ran)", "updated_at = :at", *sets]
        expression = update_expression(sets, removes)
        values = {":ran": [step_id], ":none": [], ":open": "open", ":at": advanced.updated_at, **index_values}
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

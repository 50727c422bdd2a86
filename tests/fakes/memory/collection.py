"""Collection steps, their runs and invoices in memory (the conditions of `postal.store.collection` and
`postal.store.invoices`: a run once per (invoice, step id), the sparse open and due indexes)."""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import ValidationError

from postal.errors import Conflict, NotFound
from postal.models import CollectionStep, InvoiceRecord, StepAction, Task
from postal.store import keys
from tests.fakes.memory.jobs import task_item
from tests.fakes.memory.table import ConditionFailed, Item, MemoryTable, dump

DUE_FIELDS = ("next_step_id", "next_due", "GSI2PK", "GSI2SK")


def place_in_due_index(org_id: str, invoice_id: str, item: Item, record: InvoiceRecord) -> Item:
    """The invoice's due-index keys by its next step, or none when no step is left (`due_index_update`)."""
    for name in DUE_FIELDS:
        item.pop(name, None)
    if record.next_due is not None and record.next_step_id is not None:
        due = record.next_due.isoformat()
        item.update(
            next_step_id=record.next_step_id,
            next_due=due,
            GSI2PK=keys.invoices_due_gsi2(org_id),
            GSI2SK=f"{due}#{invoice_id}",
        )
    return item


class MemoryCollection:
    def __init__(self, table: MemoryTable):
        self.table = table

    def put_steps(self, org_id: str, steps: list[CollectionStep], at: str, *, requires_connected: bool) -> None:
        item = {"PK": keys.org_pk(org_id), "SK": keys.STEPS_SK, "steps": [dump(s) for s in steps], "updated_at": at}
        with self.table.transaction():
            if requires_connected:
                self.table.require_connected(org_id)
            self.table.put(item)

    def get_steps(self, org_id: str, *, consistent: bool = False) -> tuple[list[CollectionStep], str | None]:
        item = self.table.get(keys.org_pk(org_id), keys.STEPS_SK)
        if not item:
            return [], None
        return [CollectionStep.model_validate(s) for s in item.get("steps", [])], item.get("updated_at")

    def steps_indexed(self, org_id: str, updated_at: str | None) -> bool:
        item = self.table.get(keys.org_pk(org_id), keys.STEPS_SK)
        if item is None:
            return True
        return bool(item.get("indexed_for")) and item.get("indexed_for") == updated_at

    def mark_steps_indexed(self, org_id: str, updated_at: str | None) -> None:
        if updated_at is None:
            return
        with contextlib.suppress(ConditionFailed):
            self.table.update(
                keys.org_pk(org_id),
                keys.STEPS_SK,
                lambda i: {**i, "indexed_for": updated_at} if i.get("updated_at") == updated_at else None,
            )

    def revert_steps_post(self, org_id: str, at: str, job_id: str) -> int:
        for _ in range(5):
            steps, updated_at = self.get_steps(org_id)
            n = sum(1 for s in steps if s.action == "post")
            if n == 0:
                return 0
            changed = [
                s.model_copy(update={"action": StepAction.MANUAL_INTERVENTION}) if s.action == "post" else s
                for s in steps
            ]
            item = {
                "PK": keys.org_pk(org_id),
                "SK": keys.STEPS_SK,
                "steps": [dump(s) for s in changed],
                "updated_at": at,
            }
            if self._replace_steps(org_id, job_id, item, updated_at, n):
                return n
        raise Conflict("collection steps keep changing; retry", code="concurrent_modification")

    def _replace_steps(self, org_id: str, job_id: str, item: Item, seen: str | None, n: int) -> bool:
        """The steps item replaced, if nobody changed it since `seen`, with `n` counted on the job."""
        try:
            with self.table.transaction():
                self.table.update(item["PK"], item["SK"], lambda i: item if i.get("updated_at") == seen else None)
                self.table.tick(org_id, job_id, "steps", n)
        except ConditionFailed:
            return False
        return True

    def claim_step(
        self,
        org_id: str,
        invoice: InvoiceRecord,
        advanced: InvoiceRecord,
        run: dict[str, Any],
        *,
        run_key: str | None = None,
    ) -> bool:
        pk, step_id = keys.org_pk(org_id), str(run["step_id"])
        run_item = {
            "PK": pk,
            "SK": keys.step_run_sk(invoice.invoice_id, step_id),
            "GSI2PK": keys.pending_runs_gsi2(org_id),
            "GSI2SK": f"{run['claimed_at']}#{invoice.invoice_id}",
            **run,
        }

        try:
            with self.table.transaction():
                if not self.table.put_once(run_item):
                    raise ConditionFailed(0)
                self._advance(org_id, invoice.invoice_id, advanced, step_id, run_key)
        except ConditionFailed:
            return False
        return True

    def claim_task_step(
        self,
        org_id: str,
        invoice: InvoiceRecord,
        advanced: InvoiceRecord,
        run: dict[str, Any],
        task: Task,
        *,
        run_key: str | None = None,
    ) -> bool | None:
        """As `CollectionRepository.claim_task_step`: True committed, False claimed already, None task exists."""
        step_id = str(run["step_id"])
        run_item = {"PK": keys.org_pk(org_id), "SK": keys.step_run_sk(invoice.invoice_id, step_id), **run}
        try:
            with self.table.transaction():
                if not self.table.put_once(run_item):
                    raise ConditionFailed(0)
                self._advance(org_id, invoice.invoice_id, advanced, step_id, run_key)
                if not self.table.put_once(task_item(task)):
                    raise ConditionFailed(2)
        except ConditionFailed as failed:
            return None if failed.position == 2 else False
        return True

    def _advance(
        self, org_id: str, invoice_id: str, advanced: InvoiceRecord, step_id: str, run_key: str | None
    ) -> None:
        def advance(item: Item) -> Item | None:
            if item.get("status") != "open" or (run_key is not None and item.get("claimed_run") == run_key):
                return None
            item.update(steps_run=[*item.get("steps_run", []), step_id], updated_at=advanced.updated_at)
            if run_key is not None:
                item["claimed_run"] = run_key
            return place_in_due_index(org_id, invoice_id, item, advanced)

        self.table.update(keys.org_pk(org_id), keys.invoice_sk(invoice_id), advance, create=False, position=1)

    def _run(self, org_id: str, invoice_id: str, step_id: str, change: Any) -> Item:
        return self.table.update(keys.org_pk(org_id), keys.step_run_sk(invoice_id, step_id), change)

    def finish_step_run(self, org_id: str, invoice_id: str, step_id: str, outcome: dict[str, Any]) -> None:
        def done(item: Item) -> Item:
            item.pop("GSI2PK", None)
            item.pop("GSI2SK", None)
            return {**item, "status": "done", "outcome": outcome}

        self._run(org_id, invoice_id, step_id, done)

    def fail_step_run(self, org_id: str, invoice_id: str, step_id: str, error: str) -> int:
        item = self._run(
            org_id, invoice_id, step_id, lambda i: {**i, "last_error": error, "attempts": int(i.get("attempts", 0)) + 1}
        )
        return int(item["attempts"])

    def give_up_step_run(self, org_id: str, invoice_id: str, step_id: str, error: str, task_id: str) -> None:
        def gave_up(item: Item) -> Item:
            item.pop("GSI2PK", None)
            item.pop("GSI2SK", None)
            return {**item, "status": "gave_up", "last_error": error, "task_id": task_id}

        self._run(org_id, invoice_id, step_id, gave_up)

    def pending_step_runs(self, org_id: str, limit: int) -> list[dict[str, Any]]:
        return self.table.query(index="GSI2", pk=keys.pending_runs_gsi2(org_id))[:limit]

    def get_step_run(self, org_id: str, invoice_id: str, step_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.step_run_sk(invoice_id, step_id))


class MemoryInvoices:
    def __init__(self, table: MemoryTable):
        self.table = table

    def put_invoice(self, org_id: str, invoice: InvoiceRecord) -> None:
        item: Item = {"PK": keys.org_pk(org_id), "SK": keys.invoice_sk(invoice.invoice_id), **dump(invoice)}
        if invoice.status == "open":
            item["GSI1PK"] = keys.open_invoices_gsi1(org_id)
            item["GSI1SK"] = invoice.invoice_id
        if invoice.status == "open" and invoice.next_due is not None:
            item["GSI2PK"] = keys.invoices_due_gsi2(org_id)
            item["GSI2SK"] = f"{invoice.next_due.isoformat()}#{invoice.invoice_id}"
        self.table.put(item)

    def get_invoices(
        self, org_id: str, invoice_ids: list[str], *, consistent: bool = False
    ) -> tuple[dict[str, InvoiceRecord], dict[str, ValidationError]]:
        found: dict[str, InvoiceRecord] = {}
        unreadable: dict[str, ValidationError] = {}
        for invoice_id in dict.fromkeys(invoice_ids):
            item = self.table.get(keys.org_pk(org_id), keys.invoice_sk(invoice_id))
            if item is None:
                continue
            try:
                found[invoice_id] = InvoiceRecord.model_validate(item)
            except ValidationError as exc:
                unreadable[invoice_id] = exc
        return found, unreadable

    def get_invoice(self, org_id: str, invoice_id: str, *, consistent: bool = False) -> InvoiceRecord:
        item = self.table.get(keys.org_pk(org_id), keys.invoice_sk(invoice_id))
        if not item:
            raise NotFound(f"invoice '{invoice_id}' not found")
        return InvoiceRecord.model_validate(item)

    def open_invoices(
        self, org_id: str, limit: int, cursor: str | None
    ) -> tuple[list[InvoiceRecord], list[str], str | None]:
        items, next_cursor = self.table.page(
            index="GSI1", pk=keys.open_invoices_gsi1(org_id), limit=limit, cursor=cursor
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
        def move(item: Item) -> Item | None:
            if item.get("updated_at") != invoice.updated_at or item.get("status") != "open":
                return None
            return place_in_due_index(org_id, invoice.invoice_id, item, reindexed)

        try:
            self.table.update(keys.org_pk(org_id), keys.invoice_sk(invoice.invoice_id), move, create=False)
        except ConditionFailed:
            return False
        return True

    def due_invoice_ids(self, org_id: str, today: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        upto = f"{today}#~"
        items, next_cursor = self.table.page(
            index="GSI2", pk=keys.invoices_due_gsi2(org_id), limit=limit, cursor=cursor, sk=lambda sk: sk <= upto
        )
        return [str(i["invoice_id"]) for i in items], next_cursor

"""Templates and customers in memory (the conditions of `postal.store.templates` and `postal.store.customers`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from postal.errors import Conflict, NotFound
from postal.models import Customer, CustomPdf, Template, TemplateCheck
from postal.store import keys
from tests.fakes.memory.table import ConditionFailed, Item, MemoryTable, dump


class MemoryTemplates:
    def __init__(self, table: MemoryTable):
        self.table = table

    def put_template(self, org_id: str, template: Template, *, requires_connected: bool) -> None:
        item = {"PK": keys.org_pk(org_id), "SK": keys.template_sk(template.template_id), **dump(template)}
        with self.table.transaction():
            if requires_connected:
                self.table.require_connected(org_id)
            self.table.put(item)

    def get_template(self, org_id: str, template_id: str) -> Template:
        template = self.find_template(org_id, template_id)
        if template is None:
            raise NotFound(f"template '{template_id}' not found")
        return template

    def find_template(self, org_id: str, template_id: str) -> Template | None:
        item = self.table.get(keys.org_pk(org_id), keys.template_sk(template_id))
        return Template.model_validate(item) if item else None

    def list_templates(self, org_id: str) -> list[Template]:
        items = self.table.query(index=None, pk=keys.org_pk(org_id), sk=lambda sk: sk.startswith("TEMPLATE#"))
        return [Template.model_validate(i) for i in items]

    def revert_template_post(self, org_id: str, template_id: str, at: str, job_id: str) -> bool:
        def revert(item: Item) -> Item | None:
            if item.get("default_channel") != "post":
                return None
            return {**item, "default_channel": "email", "updated_at": at}

        try:
            with self.table.transaction():
                self.table.update(keys.org_pk(org_id), keys.template_sk(template_id), revert)
                self.table.tick(org_id, job_id, "templates")
        except ConditionFailed:
            return False
        return True

    def set_template_pdf(self, org_id: str, template_id: str, pdf: CustomPdf, at: str, *, keep_check: bool) -> Template:
        def attach(item: Item) -> Item:
            item.update(custom_pdf=dump(pdf), updated_at=at)
            if not keep_check:
                item.pop("check", None)
            return item

        try:
            item = self.table.update(keys.org_pk(org_id), keys.template_sk(template_id), attach, create=False)
        except ConditionFailed as exc:
            raise NotFound(f"template '{template_id}' not found") from exc
        return Template.model_validate(item)

    def set_template_check(self, org_id: str, template_id: str, check: TemplateCheck) -> Template:
        def record(item: Item) -> Item | None:
            if (item.get("custom_pdf") or {}).get("sha256") != check.pdf_sha256:
                return None
            return {**item, "check": dump(check)}

        try:
            item = self.table.update(keys.org_pk(org_id), keys.template_sk(template_id), record, create=False)
        except ConditionFailed as exc:
            raise Conflict(
                "the template's PDF changed while it was being checked",
                code="template_pdf_changed",
                fix="run the check again",
            ) from exc
        return Template.model_validate(item)


class MemoryCustomers:
    def __init__(self, table: MemoryTable):
        self.table = table

    def put_customer(self, org_id: str, customer: Customer, *, requires_connected: str | None) -> None:
        item: Item = {"PK": keys.org_pk(org_id), "SK": keys.customer_sk(customer.customer_id), **dump(customer)}
        if customer.preference == "post" or customer.paper_invoice:
            item["GSI1PK"] = keys.post_customers_gsi1(org_id)
            item["GSI1SK"] = customer.customer_id
        with self.table.transaction():
            if requires_connected:
                self.table.require_connected(org_id, requires_connected)
            self.table.put(item)

    def get_customer(self, org_id: str, customer_id: str) -> Customer:
        item = self.table.get(keys.org_pk(org_id), keys.customer_sk(customer_id))
        if not item:
            raise NotFound(f"customer '{customer_id}' not found")
        return Customer.model_validate(item)

    def _postal(self, org_id: str) -> list[Item]:
        return self.table.query(index="GSI1", pk=keys.post_customers_gsi1(org_id))

    def get_customers(self, org_id: str, customer_ids: list[str]) -> dict[str, Customer]:
        items = (self.table.get(keys.org_pk(org_id), keys.customer_sk(cid)) for cid in dict.fromkeys(customer_ids))
        return {c.customer_id: c for c in (Customer.model_validate(i) for i in items if i is not None)}

    def postal_customers(self, org_id: str, limit: int) -> list[tuple[str, bool]]:
        return [(str(i["GSI1SK"]), i.get("preference") == "post") for i in self._postal(org_id)[:limit]]

    def count_post_customers(self, org_id: str) -> int:
        return len(self._postal(org_id))

    def count_postal_preferences(self, org_id: str) -> tuple[int, int]:
        items = self._postal(org_id)
        return sum(i.get("preference") == "post" for i in items), sum(i.get("paper_invoice") is True for i in items)

    def clear_customers_post(self, org_id: str, customer_ids: list[str], at: str, job_id: str) -> int:
        def reset(item: Item) -> Item | None:
            if item.get("preference") != "post":
                return None
            for name in ("preference", "GSI1PK", "GSI1SK"):
                item.pop(name, None)
            return {**item, "paper_invoice": False, "updated_at": at}

        return self._reset(org_id, job_id, customer_ids, reset)

    def clear_customers_paper(self, org_id: str, customer_ids: list[str], at: str, job_id: str) -> int:
        def reset(item: Item) -> Item | None:
            if item.get("paper_invoice") is not True or item.get("preference") == "post":
                return None
            item.pop("GSI1PK", None)
            item.pop("GSI1SK", None)
            return {**item, "paper_invoice": False, "updated_at": at}

        return self._reset(org_id, job_id, customer_ids, reset)

    def _reset(self, org_id: str, job_id: str, customer_ids: list[str], reset: Callable[[Item], Item | None]) -> int:
        pk = keys.org_pk(org_id)
        unique = dict.fromkeys(customer_ids)  # one operation per item, as in a transaction
        changes = [partial(self.table.update, pk, keys.customer_sk(cid), reset, create=False) for cid in unique]
        return len(self.table.counted(org_id, job_id, "customers", changes))

    def mark_address_returned(self, org_id: str, customer_id: str, at: str) -> bool:
        def mark(item: Item) -> Item:
            return {**item, "address_state": "returned", "address_returned_at": at}

        try:
            self.table.update(keys.org_pk(org_id), keys.customer_sk(customer_id), mark, create=False)
        except ConditionFailed:
            return False
        return True

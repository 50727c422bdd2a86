"""A nightly page's stores (postal.collection.page_cache): what is served from the page's one read, and what still
goes to the table, on recording stand-ins of the ports (no moto)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from postal.collection.page_cache import page_stores
from postal.errors import NotFound
from postal.letters import Letter
from postal.models import Customer, InvoiceRecord, Org, PostalIntegration, Template
from postal.ports import Stores

NOW = "2026-11-08T01:00:00Z"


class Recording:
    """Answers every call from `answers` (by method name) and records it."""

    def __init__(self, **answers: Any):
        self.answers = answers
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            answer = self.answers[name]
            return answer(*args, **kwargs) if callable(answer) else answer

        return call

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


def _stores(**ports: Recording) -> Stores:
    names = ("orgs", "integrations", "templates", "customers", "collection", "invoices", "jobs", "tasks")
    return Stores(**{n: ports.get(n, Recording()) for n in (*names, "letters", "dedupe")})  # type: ignore[arg-type]


@pytest.fixture
def ports() -> dict[str, Recording]:
    customer = Customer(customer_id="c1", name="Jana", updated_at=NOW)
    template = Template(template_id="reminder", kind="reminder", updated_at=NOW)
    return {
        "orgs": Recording(get_org=Org(org_id="o1", name="Acme", created_at=NOW)),
        "integrations": Recording(get_integration=PostalIntegration(org_id="o1", status="connected")),
        "templates": Recording(list_templates=[template], get_template=template),
        "customers": Recording(get_customers={"c1": customer}, get_customer=customer),
        "invoices": Recording(get_invoice=lambda org_id, invoice_id, consistent=False: f"table:{invoice_id}"),
        "letters": Recording(create=True, get="table-letter", history=["table-history"]),
    }


def _invoice(invoice_id: str = "i1") -> InvoiceRecord:
    return InvoiceRecord.model_validate(
        {
            "invoice_id": invoice_id,
            "customer_id": "c1",
            "number": "1",
            "issue_date": "2026-10-01",
            "due_date": "2026-11-01",
            "open_amount": "1.00",
            "updated_at": NOW,
        }
    )


def test_a_page_reads_the_org_its_templates_and_customers_once_and_serves_them(ports: dict[str, Recording]) -> None:
    paged = page_stores(_stores(**ports), "o1", {"i1": _invoice()}, PostalIntegration(org_id="o1"))
    for _ in range(3):
        assert paged.customers.get_customer("o1", "c1").customer_id == "c1"
        assert paged.templates.get_template("o1", "reminder").template_id == "reminder"
        assert paged.orgs.get_org("o1").name == "Acme"
        assert paged.invoices.get_invoice("o1", "i1").invoice_id == "i1"
    assert ports["customers"].names() == ["get_customers"]
    assert ports["templates"].names() == ["list_templates"]
    assert ports["orgs"].names() == ["get_org"]
    assert ports["invoices"].names() == []
    with pytest.raises(NotFound, match="template 'letter' not found"):
        paged.templates.get_template("o1", "letter")


def test_consistent_reads_and_other_records_still_go_to_the_table(ports: dict[str, Recording]) -> None:
    paged = page_stores(_stores(**ports), "o1", {"i1": _invoice()}, PostalIntegration(org_id="o1"))
    assert paged.integrations.get_integration("o1").status == "disconnected"  # the page's copy
    assert paged.integrations.get_integration("o1", consistent=True).status == "connected"  # the fence
    assert cast(Any, paged.invoices.get_invoice("o1", "i1", consistent=True)) == "table:i1"
    assert cast(Any, paged.invoices.get_invoice("o1", "i2")) == "table:i2"
    paged.customers.get_customer("o2", "c1")  # another org is never served from this page
    assert ports["customers"].names() == ["get_customers", "get_customer"]


def test_a_letter_the_page_created_is_read_back_from_what_it_wrote(ports: dict[str, Recording]) -> None:
    paged = page_stores(_stores(**ports), "o1", {}, PostalIntegration(org_id="o1"))
    letter = cast(Letter, type("L", (), {"letter_id": "let_1"})())
    assert paged.letters.create(letter, [], request_token="t")
    assert paged.letters.get("o1", "let_1") is letter and paged.letters.history("o1", "let_1") == []
    assert cast(Any, paged.letters.get("o1", "let_2")) == "table-letter"
    assert ports["letters"].names() == ["create", "get"]
    assert ports["customers"].names() == []  # no invoices: no customer read

"""Unit tests of the services on the in-memory ports (`tests.fakes.memory`): no moto, no boto3."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any, cast

import pytest

from postal import catalog
from postal.dispatch import Dispatcher
from postal.models import CollectionStepsIn, CustomerIn, InvoiceIn, TemplateIn
from postal.providers.connections import ProviderFactory
from tests.fakes.memory import MemoryWorld

ORG = "org_acme"
ADDRESS = {
    "name": "Bob Example",
    "lines": ["Hauptstrasse 1"],
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}


@pytest.fixture
def world() -> Iterator[MemoryWorld]:
    world = MemoryWorld()
    world.new_org(ORG)
    yield world
    every_status_change_was_published(world)


def every_status_change_was_published(world: MemoryWorld) -> None:
    """After each test: every status change a letter's history says was applied after its creation went out as
    exactly one event naming it, and no event names a change the history does not hold (as the moto tests check)."""
    items = list(world.table.items.values())
    created = {(i["org_id"], i["letter_id"]): i["created_at"] for i in items if i.get("item_type") == "letter"}
    history: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for entry in (i for i in items if i.get("item_type") == "letter_event" and i.get("applied") is not False):
        key = (str(entry["PK"]).removeprefix("ORG#"), str(entry["letter_id"]))
        if entry["occurred_at"] != created.get(key):  # the entries written with the letter itself
            history[key][str(entry["status"])] += 1
    published: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for detail in world.published():
        if detail.get("previous_status") is not None:
            published[(str(detail["org_id"]), str(detail["letter_id"]))][str(detail["status"])] += 1
    assert history == published


def factory(world: MemoryWorld) -> ProviderFactory:
    """The fake providers where a service takes a `ProviderFactory` (the same methods)."""
    return cast("ProviderFactory", world.providers)


def dispatcher(world: MemoryWorld) -> Dispatcher:
    return Dispatcher(
        stores=world.stores, providers=factory(world), documents=world.documents, events=world.events, clock=world.clock
    )


def template(world: MemoryWorld, template_id: str, channel: str = "email", kind: str = "reminder") -> None:
    body = TemplateIn.model_validate({"kind": kind, "default_channel": channel})
    catalog.put_template(world.stores, ORG, template_id, body, world.now())


def customer(world: MemoryWorld, customer_id: str, **fields: Any) -> None:
    body = CustomerIn.model_validate({"name": "Bob Example", "billing_address": ADDRESS, **fields})
    catalog.put_customer(world.stores, ORG, customer_id, body, world.now())


def steps(world: MemoryWorld, *steps: dict[str, Any]) -> None:
    catalog.put_steps(world.stores, ORG, CollectionStepsIn.model_validate({"steps": list(steps)}), world.now())


def invoice(world: MemoryWorld, invoice_id: str, customer_id: str, due: date, **fields: Any) -> None:
    body = InvoiceIn.model_validate(
        {
            "customer_id": customer_id,
            "number": f"INV-{invoice_id}",
            "issue_date": date(2026, 10, 1),
            "due_date": due,
            "open_amount": "120.00",
            **fields,
        }
    )
    catalog.put_invoice(world.stores, ORG, invoice_id, body, world.now())

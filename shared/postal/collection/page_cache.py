"""One page of a nightly org run reads each record once: the org, its integration, its templates and the page's
customers and invoices are read up front (customers and invoices by BatchGetItem) and served from memory to every
step of the page and to the letters it creates.

A letter the page creates is read back from what it wrote (`_PageLetters`). Only eventually consistent reads of
the org's records are served from the page's copy (they may be as old as the page, as a read of a
replica may); a strongly consistent read (the integration's `connected` fence before a letter, the steps) still
goes to the table. Every write goes to the table unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from postal.errors import NotFound
from postal.letters import Letter, LetterEvent
from postal.models import Customer, InvoiceRecord, Org, PostalIntegration, Template
from postal.ports import Customers, Integrations, Invoices, Letters, Orgs, Stores, Templates


class _Delegating:
    """Every method not overridden is the port's own."""

    def __init__(self, port: Any, org_id: str):
        self._port = port
        self._org_id = org_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


class _PageCustomers(_Delegating):
    def __init__(self, port: Customers, org_id: str, found: dict[str, Customer]):
        super().__init__(port, org_id)
        self._found = found

    def get_customer(self, org_id: str, customer_id: str) -> Customer:
        if org_id == self._org_id and customer_id in self._found:
            return self._found[customer_id]
        return cast(Customers, self._port).get_customer(org_id, customer_id)


class _PageInvoices(_Delegating):
    def __init__(self, port: Invoices, org_id: str, found: dict[str, InvoiceRecord]):
        super().__init__(port, org_id)
        self._found = found

    def get_invoice(self, org_id: str, invoice_id: str, *, consistent: bool = False) -> InvoiceRecord:
        if not consistent and org_id == self._org_id and invoice_id in self._found:
            return self._found[invoice_id]
        return cast(Invoices, self._port).get_invoice(org_id, invoice_id, consistent=consistent)


class _PageTemplates(_Delegating):
    def __init__(self, port: Templates, org_id: str, found: dict[str, Template]):
        super().__init__(port, org_id)
        self._found = found

    def get_template(self, org_id: str, template_id: str) -> Template:
        if org_id != self._org_id:
            return cast(Templates, self._port).get_template(org_id, template_id)
        if template_id in self._found:
            return self._found[template_id]
        raise NotFound(f"template '{template_id}' not found")

    def find_template(self, org_id: str, template_id: str) -> Template | None:
        if org_id != self._org_id:
            return cast(Templates, self._port).find_template(org_id, template_id)
        return self._found.get(template_id)


class _PageIntegrations(_Delegating):
    def __init__(self, port: Integrations, org_id: str, integration: PostalIntegration):
        super().__init__(port, org_id)
        self._integration = integration

    def get_integration(self, org_id: str, *, consistent: bool = False) -> PostalIntegration:
        if consistent or org_id != self._org_id:
            return cast(Integrations, self._port).get_integration(org_id, consistent=consistent)
        return self._integration


class _PageOrgs(_Delegating):
    def __init__(self, port: Orgs, org_id: str, org: Org):
        super().__init__(port, org_id)
        self._org = org

    def get_org(self, org_id: str, *, consistent: bool = False) -> Org:
        if consistent or org_id != self._org_id:
            return cast(Orgs, self._port).get_org(org_id, consistent=consistent)
        return self._org


class _PageLetters(_Delegating):
    """A letter this page created is read back (as the letter view after its creation reads it) from what was
    written, not from the table: one GetItem and one history Query less per letter. Any other letter, and a letter
    whose create did not commit here, is read from the table."""

    def __init__(self, port: Letters, org_id: str):
        super().__init__(port, org_id)
        self._created: dict[str, tuple[Letter, list[LetterEvent]]] = {}

    def create(self, letter: Letter, events: list[LetterEvent], *, request_token: str | None = None) -> bool:
        created = cast(Letters, self._port).create(letter, events, request_token=request_token)
        if created:
            self._created[letter.letter_id] = (letter, list(events))
        return created

    def get(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Letter | None:
        if org_id == self._org_id and letter_id in self._created:
            return self._created[letter_id][0]
        return cast(Letters, self._port).get(org_id, letter_id, consistent=consistent)

    def history(self, org_id: str, letter_id: str) -> list[LetterEvent]:
        if org_id == self._org_id and letter_id in self._created:
            return list(self._created[letter_id][1])
        return cast(Letters, self._port).history(org_id, letter_id)


def page_stores(
    stores: Stores, org_id: str, invoices: dict[str, InvoiceRecord], integration: PostalIntegration
) -> Stores:
    """The stores one page of `org_id` runs on: the org, its templates and the customers of `invoices` read now
    (three requests, one per 100 customers), with `invoices` (already read in one batch) and `integration`."""
    customer_ids = sorted({invoice.customer_id for invoice in invoices.values()})
    customers = stores.customers.get_customers(org_id, customer_ids) if customer_ids else {}
    templates = {t.template_id: t for t in stores.templates.list_templates(org_id)}
    return dataclasses.replace(
        stores,
        orgs=cast(Orgs, _PageOrgs(stores.orgs, org_id, stores.orgs.get_org(org_id))),
        integrations=cast(Integrations, _PageIntegrations(stores.integrations, org_id, integration)),
        templates=cast(Templates, _PageTemplates(stores.templates, org_id, templates)),
        customers=cast(Customers, _PageCustomers(stores.customers, org_id, customers)),
        invoices=cast(Invoices, _PageInvoices(stores.invoices, org_id, invoices)),
        letters=cast(Letters, _PageLetters(stores.letters, org_id)),
    )

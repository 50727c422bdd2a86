"""The DynamoDB implementation of every storage port, over one table (`postal.ports.Stores`)."""

from __future__ import annotations

from typing import Any

from postal.ports import Stores
from postal.store.collection import CollectionRepository
from postal.store.customers import CustomerRepository
from postal.store.dedupe import DedupeRepository
from postal.store.integration import IntegrationRepository
from postal.store.invoices import InvoiceRepository
from postal.store.jobs import JobRepository
from postal.store.letters import LetterRepository
from postal.store.orgs import OrgRepository
from postal.store.tasks import TaskRepository
from postal.store.templates import TemplateRepository


def dynamo_stores(client: Any, table_name: str) -> Stores:
    """Every repository over `table_name`, sharing one boto3 DynamoDB client (real AWS or moto)."""
    return Stores(
        orgs=OrgRepository(client, table_name),
        integrations=IntegrationRepository(client, table_name),
        templates=TemplateRepository(client, table_name),
        customers=CustomerRepository(client, table_name),
        collection=CollectionRepository(client, table_name),
        invoices=InvoiceRepository(client, table_name),
        jobs=JobRepository(client, table_name),
        tasks=TaskRepository(client, table_name),
        letters=LetterRepository(client, table_name),
        dedupe=DedupeRepository(client, table_name),
    )

"""Every conformance scenario runs twice: on the DynamoDB repositories under moto and on the in-memory fakes."""

from __future__ import annotations

from datetime import date

import pytest

from postal.letters import Letter, LetterEvent
from postal.models import (
    Customer,
    IntegrationStatus,
    InvoiceRecord,
    Job,
    JobStatus,
    LetterStatus,
    Org,
    PostalIntegration,
    ProviderName,
)
from postal.ports import Stores
from tests.fakes.memory import MemoryWorld

AT = "2026-12-02T10:00:00.000Z"
ADDRESS = {
    "name": "Ada Lovelace",
    "lines": ["Hauptstrasse 1"],
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}


@pytest.fixture(params=["moto", "memory"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "memory":
        return MemoryWorld().stores
    request.getfixturevalue("aws")
    from postal import bootstrap

    return bootstrap.stores()


def new_org(stores: Stores, org_id: str = "org_c") -> str:
    stores.orgs.create_org(Org(org_id=org_id, name="Conformance", created_at=AT), f"hash-{org_id}")
    return org_id


def connect(stores: Stores, org_id: str) -> PostalIntegration:
    current = stores.integrations.get_integration(org_id, consistent=True)
    connected = current.model_copy(
        update={
            "status": IntegrationStatus.CONNECTED,
            "provider": ProviderName.SANDBOX,
            "connected_at": AT,
            "secret_ref": f"ref-{current.generation + 1}",
            "generation": current.generation + 1,
        }
    )
    stores.integrations.connect(connected, expected_generation=current.generation)
    return connected


def job(stores: Stores, org_id: str, job_id: str = "job_c") -> Job:
    return stores.jobs.ensure_job(
        Job(job_id=job_id, org_id=org_id, kind="disconnect_cascade", status=JobStatus.RUNNING, started_at=AT)
    )


def letter(stores: Stores, org_id: str, letter_id: str, status: LetterStatus = LetterStatus.QUEUED) -> Letter:
    stored = Letter.model_validate(
        {
            "letter_id": letter_id,
            "org_id": org_id,
            "status": status,
            "recipient": ADDRESS,
            "postage": "priority",
            "pdf_key": f"letters/{letter_id}.pdf",
            "page_count": 1,
            "sha256": "0" * 64,
            "provider": "sandbox",
            "created_at": AT,
            "updated_at": AT,
        }
    )
    assert stores.letters.create(stored, [LetterEvent(status=status.value, occurred_at=AT, source="test")])
    return stored


def customer(stores: Stores, org_id: str, customer_id: str, **fields: object) -> Customer:
    stored = Customer.model_validate({"customer_id": customer_id, "name": "Bob", "updated_at": AT, **fields})
    stores.customers.put_customer(org_id, stored, requires_connected=None)
    return stored


def invoice(stores: Stores, org_id: str, invoice_id: str, **fields: object) -> InvoiceRecord:
    stored = InvoiceRecord.model_validate(
        {
            "invoice_id": invoice_id,
            "customer_id": "cust_1",
            "number": f"N-{invoice_id}",
            "issue_date": date(2026, 11, 2),
            "due_date": date(2026, 11, 16),
            "open_amount": "100.00",
            "updated_at": AT,
            **fields,
        }
    )
    stores.invoices.put_invoice(org_id, stored)
    return stored

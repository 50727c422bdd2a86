"""`MemoryWorld`: every port in memory over one table, the way `postal.bootstrap` builds the real ones, plus a few
steps that set up an org the way the API would (an org, a connection, templates, customers, invoices, letters)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from postal.letters import Letter, LetterEvent
from postal.models import (
    Address,
    IntegrationStatus,
    LetterStatus,
    Org,
    Postage,
    ProviderName,
)
from postal.ports import Stores
from tests.fakes.memory.adapters import MemoryDocuments, MemoryIdempotencyKeys, MemorySecrets, RecordingQueue
from tests.fakes.memory.catalog import MemoryCustomers, MemoryTemplates
from tests.fakes.memory.collection import MemoryCollection, MemoryInvoices
from tests.fakes.memory.jobs import MemoryDedupe, MemoryJobs, MemoryTasks
from tests.fakes.memory.letters import MemoryLetters
from tests.fakes.memory.orgs import MemoryIntegrations, MemoryOrgs
from tests.fakes.memory.provider import MemoryProvider, MemoryProviders
from tests.fakes.memory.table import MemoryTable
from tests.fakes.publisher import RecordingPublisher

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
RECIPIENT = Address(name="Ada Lovelace", lines=["Hauptstrasse 1"], postal_code="10115", city="Berlin", country="DE")


def memory_stores(table: MemoryTable) -> Stores:
    """Every storage port over one in-memory table (`postal.store.repositories.dynamo_stores`'s twin)."""
    return Stores(
        orgs=MemoryOrgs(table),
        integrations=MemoryIntegrations(table),
        templates=MemoryTemplates(table),
        customers=MemoryCustomers(table),
        collection=MemoryCollection(table),
        invoices=MemoryInvoices(table),
        jobs=MemoryJobs(table),
        tasks=MemoryTasks(table),
        letters=MemoryLetters(table),
        dedupe=MemoryDedupe(table),
    )


@dataclass
class Clock:
    """ISO timestamps (milliseconds, `Z`) that move on by `step` each reading, from `now`."""

    now: datetime = START
    step: timedelta = timedelta(milliseconds=1)

    def __call__(self) -> str:
        self.now += self.step
        return self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class MemoryWorld:
    """The ports and their records: `events` (published), `dispatch` and `cascade` (queues), `documents`, `secrets`,
    `providers` (with `provider()` for what a provider account was handed)."""

    table: MemoryTable = field(default_factory=MemoryTable)
    events: RecordingPublisher = field(default_factory=RecordingPublisher)
    dispatch: RecordingQueue = field(default_factory=RecordingQueue)
    cascade: RecordingQueue = field(default_factory=RecordingQueue)
    documents: MemoryDocuments = field(default_factory=MemoryDocuments)
    secrets: MemorySecrets = field(default_factory=MemorySecrets)
    idempotency: MemoryIdempotencyKeys = field(default_factory=MemoryIdempotencyKeys)
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.stores = memory_stores(self.table)
        self.providers = MemoryProviders(self.stores.integrations, self.secrets)

    @property
    def letters(self) -> MemoryLetters:
        letters = self.stores.letters
        assert isinstance(letters, MemoryLetters)
        return letters

    def now(self) -> str:
        return self.clock()

    # ------------------------------------------------------------------------------------------------ set-ups

    def new_org(self, org_id: str = "org_acme", name: str = "Acme GmbH") -> str:
        self.stores.orgs.create_org(Org(org_id=org_id, name=name, created_at=self.now()), f"hash-{org_id}")
        return org_id

    def connect(self, org_id: str, provider: ProviderName = ProviderName.SANDBOX) -> MemoryProvider:
        """Connect the org as `postal.integration.connect` does (a secret per connection, a new generation); the
        provider account its letters go to."""
        integration = self.stores.integrations.get_integration(org_id)
        assert integration.status is IntegrationStatus.DISCONNECTED
        signing_key = f"key-{org_id}-{integration.generation + 1}"
        secret: dict[str, Any] = {"provider": provider.value, "credentials": {}, "webhook_signing_key": signing_key}
        ref = self.secrets.put_integration_secret(org_id, secret, connection=integration.generation + 1)
        past = [integration.secret_ref] if integration.secret_ref else []
        connected = integration.model_copy(
            update={
                "status": IntegrationStatus.CONNECTED,
                "provider": provider,
                "connected_at": self.now(),
                "secret_ref": ref,
                "past_secret_refs": past + integration.past_secret_refs,
                "generation": integration.generation + 1,
            }
        )
        self.stores.integrations.connect(connected, expected_generation=integration.generation)
        return self.providers.provider(provider.value, signing_key)

    def letter(
        self,
        org_id: str,
        letter_id: str,
        status: LetterStatus = LetterStatus.QUEUED,
        *,
        customer_id: str | None = None,
        pdf: bytes = b"%PDF-1.7 letter",
        **fields: Any,
    ) -> Letter:
        """A stored letter (its PDF in the documents bucket) with its first history entry."""
        at = self.now()
        pdf_key = f"letters/{org_id}/{letter_id}.pdf"
        self.documents.put_pdf(pdf_key, pdf)
        letter = Letter.model_validate(
            {
                "letter_id": letter_id,
                "org_id": org_id,
                "status": status,
                "customer_id": customer_id,
                "recipient": RECIPIENT,
                "postage": Postage.PRIORITY,
                "pdf_key": pdf_key,
                "page_count": 1,
                "sha256": "0" * 64,
                "provider": "sandbox",
                "created_at": at,
                "updated_at": at,
                **fields,
            }
        )
        event = LetterEvent(status=status.value, occurred_at=at, source="test")
        assert self.letters.create(letter, [event])
        return letter

    def status_of(self, org_id: str, letter_id: str) -> LetterStatus:
        letter = self.letters.get(org_id, letter_id)
        assert letter is not None
        return letter.status

    def published(self, detail_type: str = "LetterStatusChanged") -> Iterator[dict[str, Any]]:
        return (d for d, t in zip(self.events.details, self.events.types, strict=True) if t == detail_type)

"""The ports: what the services need from storage, as Protocols (no boto3 here).

The DynamoDB repositories (`postal.store.<aggregate>`) implement them; `tests/fakes/memory` implements them in
memory with the same conditions. A service takes the ports it uses, or the `Stores` bundle of them, and never a
concrete repository; `postal.bootstrap` builds the real ones once per container.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from postal.letters import Letter, LetterError, LetterEvent
    from postal.letters.status import StatusChange
    from postal.models import (
        CollectionStep,
        Customer,
        CustomPdf,
        InvoiceRecord,
        Job,
        JobFailure,
        Org,
        PostalIntegration,
        Task,
        TaskQuery,
        Template,
        TemplateCheck,
    )
    from postal.store.dynamo import Item


class ClaimOutcome(StrEnum):
    """What claiming a queued letter for one dispatch gave."""

    CLAIMED = "claimed"
    INTEGRATION_CHANGED = "integration_changed"  # not connected any more, or another generation
    UNAVAILABLE = "unavailable"  # not queued any more, or claimed by another message


class IdempotencyHit(StrEnum):
    """What reserving an Idempotency-Key found."""

    NEW = "new"
    SAME = "same"
    DIFFERENT_BODY = "different_body"


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What `Documents.head` tells about an object: its size, content type, SSE algorithm and user metadata."""

    key: str
    size: int
    content_type: str | None
    sse: str | None
    metadata: dict[str, str]


class Documents(Protocol):
    """The documents bucket: rendered letters, custom template PDFs, uploads and previews."""

    presign_seconds: int  # how long a download or upload URL is valid

    def put(self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None) -> None: ...

    def put_pdf(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None: ...

    def put_png(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None: ...

    def get(self, key: str) -> bytes: ...

    def head(self, key: str) -> StoredObject | None: ...

    def download_url(self, key: str, *, filename: str | None = None) -> str: ...

    def upload_url(self, key: str, *, content_type: str = "application/pdf") -> str: ...


class Publisher(Protocol):
    """The event bus: every change AR platforms may react to."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...

    def publish_many(self, detail_type: str, details: list[dict[str, Any]]) -> None: ...


class Sender(Protocol):
    """A queue (dispatch, disconnect cascade)."""

    def send(self, message: BaseModel, delay_seconds: int = 0) -> None: ...


class IdempotencyKeys(Protocol):
    """`Idempotency-Key` records of the requests that create something."""

    def reserve(
        self, scope: str, org_id: str, key: str, request_hash: str, resource_id: str, *, expires_at: int
    ) -> tuple[IdempotencyHit, str]: ...

    def release(self, scope: str, org_id: str, key: str, request_hash: str) -> None: ...


class SecretReader(Protocol):
    def get(self, ref: str) -> dict[str, Any]: ...


class SecretWriter(Protocol):
    def put_integration_secret(self, org_id: str, value: dict[str, Any], *, connection: int = 0) -> str: ...


class Orgs(Protocol):
    """Orgs and their API keys (the key's item holds only its hash)."""

    def create_org(self, org: Org, key_hash: str, *, request_token: str | None = None) -> None: ...

    def get_org(self, org_id: str, *, consistent: bool = False) -> Org: ...

    def find_org(self, org_id: str, *, consistent: bool = False) -> Org | None: ...

    def update_org(self, org: Org, seen_updated_at: str | None) -> None: ...

    def rotate_api_key(self, org_id: str, new_hash: str, at: str) -> None: ...

    def org_for_key(self, key_hash: str, *, consistent: bool = False) -> str | None: ...

    def iter_org_ids(self) -> Iterator[str]: ...


class Integrations(Protocol):
    """The org's postal integration: connect, disconnect (with the cascade job), its secrets' references."""

    def get_integration(self, org_id: str, *, consistent: bool = False) -> PostalIntegration: ...

    def connect(self, integration: PostalIntegration, expected_generation: int) -> None: ...

    def secret_ref(self, org_id: str, *, consistent: bool = True) -> str | None: ...

    def secret_refs(self, org_id: str) -> list[str]: ...

    def disconnect(self, org_id: str, job: Job, at: str) -> PostalIntegration: ...


class Templates(Protocol):
    """Document templates, their custom PDFs and check results."""

    def put_template(self, org_id: str, template: Template, *, requires_connected: bool) -> None: ...

    def get_template(self, org_id: str, template_id: str) -> Template: ...

    def find_template(self, org_id: str, template_id: str) -> Template | None: ...

    def list_templates(self, org_id: str) -> list[Template]: ...

    def revert_template_post(self, org_id: str, template_id: str, at: str, job_id: str) -> bool: ...

    def set_template_pdf(
        self, org_id: str, template_id: str, pdf: CustomPdf, at: str, *, keep_check: bool
    ) -> Template: ...

    def set_template_check(self, org_id: str, template_id: str, check: TemplateCheck) -> Template: ...


class Customers(Protocol):
    """Customers, the sparse index of those with a postal preference, and their reset by the disconnect cascade."""

    def put_customer(self, org_id: str, customer: Customer, *, requires_connected: str | None) -> None: ...

    def get_customer(self, org_id: str, customer_id: str) -> Customer: ...

    def get_customers(self, org_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...

    def postal_customers(self, org_id: str, limit: int) -> list[tuple[str, bool]]: ...

    def count_post_customers(self, org_id: str) -> int: ...

    def count_postal_preferences(self, org_id: str) -> tuple[int, int]: ...

    def clear_customers_post(self, org_id: str, customer_ids: list[str], at: str, job_id: str) -> int: ...

    def clear_customers_paper(self, org_id: str, customer_ids: list[str], at: str, job_id: str) -> int: ...

    def mark_address_returned(self, org_id: str, customer_id: str, at: str) -> bool: ...


class Collection(Protocol):
    """The org's collection steps and the runs of a step on an invoice (exactly once per step id)."""

    def put_steps(self, org_id: str, steps: list[CollectionStep], at: str, *, requires_connected: bool) -> None: ...

    def get_steps(self, org_id: str, *, consistent: bool = False) -> tuple[list[CollectionStep], str | None]: ...

    def steps_indexed(self, org_id: str, updated_at: str | None) -> bool: ...

    def mark_steps_indexed(self, org_id: str, updated_at: str | None) -> None: ...

    def revert_steps_post(self, org_id: str, at: str, job_id: str) -> int: ...

    def claim_step(
        self,
        org_id: str,
        invoice: InvoiceRecord,
        advanced: InvoiceRecord,
        run: dict[str, Any],
        *,
        run_key: str | None = None,
    ) -> bool: ...

    def claim_task_step(
        self,
        org_id: str,
        invoice: InvoiceRecord,
        advanced: InvoiceRecord,
        run: dict[str, Any],
        task: Task,
        *,
        run_key: str | None = None,
    ) -> bool | None: ...

    def finish_step_run(self, org_id: str, invoice_id: str, step_id: str, outcome: dict[str, Any]) -> None: ...

    def fail_step_run(self, org_id: str, invoice_id: str, step_id: str, error: str) -> int: ...

    def give_up_step_run(self, org_id: str, invoice_id: str, step_id: str, error: str, task_id: str) -> None: ...

    def pending_step_runs(self, org_id: str, limit: int) -> list[dict[str, Any]]: ...

    def get_step_run(self, org_id: str, invoice_id: str, step_id: str) -> dict[str, Any] | None: ...


class Invoices(Protocol):
    """Invoices with their due index (sparse GSI2) and open index (sparse GSI1)."""

    def put_invoice(self, org_id: str, invoice: InvoiceRecord) -> None: ...

    def get_invoice(self, org_id: str, invoice_id: str, *, consistent: bool = False) -> InvoiceRecord: ...

    def get_invoices(
        self, org_id: str, invoice_ids: list[str], *, consistent: bool = False
    ) -> tuple[dict[str, InvoiceRecord], dict[str, ValidationError]]: ...

    def open_invoices(
        self, org_id: str, limit: int, cursor: str | None
    ) -> tuple[list[InvoiceRecord], list[str], str | None]: ...

    def set_next_step(self, org_id: str, invoice: InvoiceRecord, reindexed: InvoiceRecord) -> bool: ...

    def due_invoice_ids(
        self, org_id: str, today: str, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]: ...


class Jobs(Protocol):
    """Jobs (disconnect cascades, nightly runs): created once, counted, finished once."""

    def ensure_job(self, job: Job) -> Job: ...

    def add_job_done(self, org_id: str, job_id: str, counter: str, n: int = 1) -> None: ...

    def start_firing(self, job: Job, at: str) -> None: ...

    def add_job_total(self, org_id: str, job_id: str, n: int, at: str) -> None: ...

    def tick_job(self, org_id: str, job_id: str, counter: str, at: str) -> None: ...

    def add_job_counts(
        self, org_id: str, job_id: str, counts: dict[str, int], at: str, *, done: int = 0, total: int = 0
    ) -> tuple[int, int | None]: ...

    def add_job_failure(self, org_id: str, job_id: str, failure: JobFailure, cap: int = 50) -> None: ...

    def finish_firing(self, org_id: str, job_id: str, at: str, *, failed: bool = False) -> None: ...

    def get_job(self, org_id: str, job_id: str, *, consistent: bool = False) -> Job: ...

    def running_job(self, org_id: str, job_id: str | None) -> Job | None: ...

    def set_job_phase(self, org_id: str, job_id: str, phase: str) -> None: ...

    def set_job_total(self, org_id: str, job_id: str, total: int, counts: dict[str, int]) -> None: ...

    def add_submitted_after_disconnect(self, org_id: str, job_id: str, letter_id: str) -> None: ...

    def finish_job(self, org_id: str, job_id: str, at: str) -> bool: ...


class Tasks(Protocol):
    """Tasks for a person (letter tasks, address fixes), by status."""

    def open_task(self, task: Task) -> bool: ...

    def complete_task(self, org_id: str, task_id: str, at: str) -> Task: ...

    def get_task(self, org_id: str, task_id: str) -> Task: ...

    def find_task(self, org_id: str, task_id: str) -> Task | None: ...

    def list_tasks(
        self, org_id: str, query: TaskQuery, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]: ...


class LetterReads(Protocol):
    """The letters' read side (every query on a key or a GSI)."""

    def get_raw(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Item | None: ...

    def get(self, org_id: str, letter_id: str, *, consistent: bool = True) -> Letter | None: ...

    def history(self, org_id: str, letter_id: str) -> list[LetterEvent]: ...

    def list(
        self,
        org_id: str,
        *,
        status: str | None,
        customer_id: str | None,
        created_from: str | None,
        created_to: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Letter], str | None]: ...

    def stuck_in(self, org_id: str, status: str, *, since_before: str, limit: int) -> builtins.list[Letter]: ...

    def find_by_provider_id(self, org_id: str, provider: str, provider_letter_id: str) -> str | None: ...

    def unsubmitted(self, org_id: str, status: str, limit: int) -> builtins.list[Letter]: ...

    def count_letters(self, org_id: str, status: str) -> int: ...


class Letters(LetterReads, Protocol):
    """DynamoDB access for letters (reads inherited). `client` is a boto3 DynamoDB client."""

    def letter_item(self, letter: Letter) -> Item: ...

    def create(self, letter: Letter, events: list[LetterEvent], *, request_token: str | None = None) -> bool: ...

    def record_history(self, org_id: str, letter_id: str, event: LetterEvent) -> None: ...

    def set_provider_ref(self, org_id: str, letter_id: str, provider: str, provider_letter_id: str) -> bool: ...

    def claim(
        self, org_id: str, letter_id: str, *, generation: int, message_id: str, at: str, stale_before: str
    ) -> ClaimOutcome: ...

    def release_claim(self, org_id: str, letter_id: str, message_id: str, error: LetterError) -> None: ...

    def set_staged(self, org_id: str, letter_id: str, staged: dict[str, str]) -> None: ...

    def apply(self, org_id: str, letter_id: str, change: StatusChange) -> bool: ...

    def apply_counted(
        self, org_id: str, changes: list[tuple[str, StatusChange]], job_id: str, counter: str
    ) -> list[str]: ...


class Dedupe(Protocol):
    """First sight of something, once per key."""

    def mark_webhook_event(self, org_id: str, provider: str, event_id: str, *, expires_at: int) -> bool: ...

    def forget_webhook_event(self, org_id: str, provider: str, event_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class LetterPorts:
    """What sending a letter needs besides the stores: the documents bucket, the Idempotency-Key table, the dispatch
    queue and the event bus (`postal.bootstrap.letter_ports`)."""

    stores: Stores
    documents: Documents
    keys: IdempotencyKeys
    dispatch: Sender
    events: Publisher


@dataclass(frozen=True, slots=True)
class Stores:
    """Every storage port of the one table, built once per container (`postal.bootstrap.stores`)."""

    orgs: Orgs
    integrations: Integrations
    templates: Templates
    customers: Customers
    collection: Collection
    invoices: Invoices
    jobs: Jobs
    tasks: Tasks
    letters: Letters
    dedupe: Dedupe

"""Provider callbacks (`postal.webhooks.handle` / `apply_event`) on the in-memory ports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from postal import webhooks
from postal.errors import Unauthorized
from postal.models import AddressState, LetterStatus, ReturnedMailFallback
from postal.providers.base import WebhookEvent
from tests.fakes.memory import MemoryProvider, MemoryWorld, webhook_body
from tests.fakes.memory.provider import SIGNATURE_HEADER
from tests.unit.services.conftest import ORG, customer, factory


def hook(status: LetterStatus | None, event_id: str = "evt_1", **fields: Any) -> WebhookEvent:
    return WebhookEvent(
        provider="sandbox",
        event_id=event_id,
        provider_letter_id="sandbox-1",
        status=status,
        raw_status=status.value if status else "info",
        occurred_at=datetime(2026, 12, 2, 12, 0, tzinfo=UTC),
        **fields,
    )


def deliver(world: MemoryWorld, provider: MemoryProvider, *events: WebhookEvent) -> webhooks.WebhookResult:
    headers = {SIGNATURE_HEADER: provider.signing_key or ""}
    return webhooks.handle(
        world.stores,
        world.letters,
        factory(world),
        world.events,
        "sandbox",
        ORG,
        headers,
        webhook_body(*events),
        world.now(),
    )


@pytest.fixture
def provider(world: MemoryWorld) -> MemoryProvider:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1", LetterStatus.SUBMITTED, customer_id="cust_1", provider_letter_id="sandbox-1")
    return provider


def test_a_forward_move_is_applied_and_published(world: MemoryWorld, provider: MemoryProvider) -> None:
    result = deliver(world, provider, hook(LetterStatus.PRINTING))
    assert (result.received, result.applied, result.duplicates) == (1, 1, 0)
    assert world.status_of(ORG, "let_1") is LetterStatus.PRINTING
    assert [(d["previous_status"], d["status"]) for d in world.published()] == [("submitted", "printing")]
    assert world.letters.history(ORG, "let_1")[-1].event_id == "evt_1"


def test_a_backwards_move_goes_into_the_history_only(world: MemoryWorld, provider: MemoryProvider) -> None:
    deliver(world, provider, hook(LetterStatus.SENT, "evt_1"))
    result = deliver(world, provider, hook(LetterStatus.PRINTING, "evt_2"))
    assert result.applied == 0
    assert world.status_of(ORG, "let_1") is LetterStatus.SENT
    late = [e for e in world.letters.history(ORG, "let_1") if not e.applied]
    assert [(e.status, e.event_id) for e in late] == [("printing", "evt_2")]
    assert len(list(world.published())) == 1


def test_a_duplicate_event_is_deduplicated(world: MemoryWorld, provider: MemoryProvider) -> None:
    deliver(world, provider, hook(LetterStatus.PRINTING))
    result = deliver(world, provider, hook(LetterStatus.PRINTING))
    assert (result.applied, result.duplicates) == (0, 1)
    assert len(world.letters.history(ORG, "let_1")) == 2
    assert len(list(world.published())) == 1


def test_returned_mail_marks_the_address_and_opens_a_fix_address_task(world: MemoryWorld) -> None:
    org = world.stores.orgs.get_org(ORG)
    world.stores.orgs.update_org(
        org.model_copy(update={"returned_mail_fallback": ReturnedMailFallback.EMAIL}), org.updated_at
    )
    provider = world.connect(ORG)
    customer(world, "cust_1", email="bob@example.com")
    world.letter(ORG, "let_1", LetterStatus.SENT, customer_id="cust_1", provider_letter_id="sandbox-1")
    assert deliver(world, provider, hook(LetterStatus.UNDELIVERABLE, reason="moved away")).applied == 1
    assert world.stores.customers.get_customer(ORG, "cust_1").address_state is AddressState.RETURNED
    task = world.stores.tasks.get_task(ORG, "task_fix_let_1")
    assert (task.kind, task.customer_id) == ("fix_address", "cust_1")
    letter = world.letters.get(ORG, "let_1")
    assert letter is not None and letter.error is not None and letter.error.code == "undeliverable"
    fallbacks = list(world.published("CommunicationDue"))
    assert [(f["channel"], f["run_id"]) for f in fallbacks] == [("email", "returned:let_1")]


def test_a_failure_reported_by_the_provider_opens_one_task_for_a_person(
    world: MemoryWorld, provider: MemoryProvider
) -> None:
    deliver(world, provider, hook(LetterStatus.FAILED, error_code="invalid_address", reason="no such street"))
    assert world.status_of(ORG, "let_1") is LetterStatus.FAILED
    assert world.stores.tasks.get_task(ORG, "task_failed_let_1").kind == "manual_intervention"


def test_an_informational_event_is_history_only(world: MemoryWorld, provider: MemoryProvider) -> None:
    assert deliver(world, provider, hook(None)).applied == 0
    assert world.letters.history(ORG, "let_1")[-1].applied is False
    assert world.status_of(ORG, "let_1") is LetterStatus.SUBMITTED


def test_a_callback_not_signed_by_any_connection_is_refused_and_changes_nothing(
    world: MemoryWorld, provider: MemoryProvider
) -> None:
    forged = MemoryProvider("sandbox", signing_key="not-the-key")
    with pytest.raises(Unauthorized):
        deliver(world, forged, hook(LetterStatus.PRINTING))
    assert world.status_of(ORG, "let_1") is LetterStatus.SUBMITTED
    assert world.stores.dedupe.mark_webhook_event(ORG, "sandbox", "evt_1", expires_at=2_000_000_000)


def test_an_event_for_an_unknown_letter_is_forgotten_so_the_providers_retry_is_processed(
    world: MemoryWorld, provider: MemoryProvider
) -> None:
    unknown = hook(LetterStatus.PRINTING).model_copy(update={"provider_letter_id": "sandbox-99"})
    with pytest.raises(Exception, match="unknown letter"):
        deliver(world, provider, unknown)
    assert world.stores.dedupe.mark_webhook_event(ORG, "sandbox", "evt_1", expires_at=2_000_000_000)


def test_apply_event_moves_the_letter_like_a_webhook(world: MemoryWorld, provider: MemoryProvider) -> None:
    assert webhooks.apply_event(world.stores, world.letters, world.events, ORG, hook(LetterStatus.SENT), world.now())
    assert world.status_of(ORG, "let_1") is LetterStatus.SENT

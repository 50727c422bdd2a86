"""Dispatch (`postal.dispatch.Dispatcher`) on the in-memory ports: exactly one hand-over per letter."""

from __future__ import annotations

import pytest

from postal.dispatch import MAX_RECEIVES, Outcome, RetryLater
from postal.errors import ProviderError
from postal.integration import disconnect
from postal.letters import DispatchMessage
from postal.models import LetterStatus
from tests.fakes.memory import MemoryWorld
from tests.unit.services.conftest import ORG, dispatcher

MESSAGE = DispatchMessage(org_id=ORG, letter_id="let_1")


def unavailable() -> ProviderError:
    return ProviderError("provider_unavailable", "503 from the provider", fix="wait", retryable=True)


def changes(world: MemoryWorld) -> list[tuple[str, str]]:
    return [(d["previous_status"], d["status"]) for d in world.published()]


def test_a_queued_letter_is_handed_over_once_and_its_submission_published(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=1) is Outcome.SUBMITTED
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=2) is Outcome.DUPLICATE
    letter = world.letters.get(ORG, "let_1")
    assert letter is not None
    assert (letter.status, letter.provider_letter_id) == (LetterStatus.SUBMITTED, "sandbox-1")
    assert list(provider.submissions) == ["sandbox-1"]
    assert provider.submissions["sandbox-1"].pdf == b"%PDF-1.7 letter"
    assert changes(world) == [("queued", "submitted")]
    raw = world.letters.get_raw(ORG, "let_1")
    assert raw is not None and "claim_message" not in raw


def test_a_duplicate_message_for_a_handed_over_letter_changes_nothing(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=1)
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-2", receive_count=1) is Outcome.DUPLICATE
    assert len(provider.submissions) == 1
    assert len(world.letters.history(ORG, "let_1")) == 2


def test_a_letter_of_a_disconnected_org_is_cancelled_and_never_reaches_the_provider(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    disconnect(world.stores, world.cascade, ORG, world.now())
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=1) is Outcome.CANCELLED
    assert world.status_of(ORG, "let_1") is LetterStatus.CANCELLED
    assert provider.submissions == {}
    assert changes(world) == [("queued", "cancelled")]
    assert world.letters.history(ORG, "let_1")[-1].reason == "integration_disconnected"


def test_a_retryable_provider_error_releases_the_claim_for_the_next_delivery(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    provider.fail_next(unavailable())
    with pytest.raises(RetryLater):
        dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=1)
    raw = world.letters.get_raw(ORG, "let_1")
    assert raw is not None
    assert (raw["status"], "claim_message" in raw, raw["last_error"]["code"]) == (
        "queued",
        False,
        "provider_unavailable",
    )
    assert world.events.details == []
    # Another message may take it at once (the claim is gone), and the hand-over happens once.
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-2", receive_count=1) is Outcome.SUBMITTED
    assert len(provider.submissions) == 1


def test_the_last_receive_fails_the_letter_so_it_never_vanishes(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    provider.fail_next(unavailable())
    with pytest.raises(RetryLater):
        dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=MAX_RECEIVES)
    letter = world.letters.get(ORG, "let_1")
    assert letter is not None and letter.error is not None
    assert (letter.status, letter.error.code) == (LetterStatus.FAILED, "provider_unavailable")
    assert letter.error.details["attempts"] == MAX_RECEIVES
    assert changes(world) == [("queued", "failed")]


def test_a_redrive_of_an_unreached_failure_queues_the_letter_again_and_hands_it_over(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    provider.fail_next(unavailable())
    with pytest.raises(RetryLater):
        dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=MAX_RECEIVES)
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-dlq", receive_count=1) is Outcome.SUBMITTED
    assert changes(world) == [("queued", "failed"), ("failed", "queued"), ("queued", "submitted")]
    assert len(provider.submissions) == 1


def test_a_refusal_by_the_provider_fails_the_letter_at_once(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    provider.fail_next(ProviderError("invalid_address", "no such street", fix="correct the address"))
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=1) is Outcome.FAILED
    letter = world.letters.get(ORG, "let_1")
    assert letter is not None and letter.error is not None
    assert (letter.status, letter.error.code) == (LetterStatus.FAILED, "invalid_address")
    # Not a redrivable failure: a later delivery changes nothing.
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-2", receive_count=1) is Outcome.DUPLICATE
    assert provider.submissions == {}


def test_a_letter_claimed_by_another_live_dispatch_is_left_to_it(world: MemoryWorld) -> None:
    provider = world.connect(ORG)
    world.letter(ORG, "let_1")
    generation = world.stores.integrations.get_integration(ORG).generation
    world.letters.claim(ORG, "let_1", generation=generation, message_id="m-other", at=world.now(), stale_before="")
    assert dispatcher(world).dispatch(MESSAGE, message_id="m-1", receive_count=1) is Outcome.HELD_ELSEWHERE
    assert provider.submissions == {}

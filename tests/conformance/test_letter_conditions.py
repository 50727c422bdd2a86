"""The letters fake honours the letters repository's conditions (sources, guards, claims, counted batches, pages): each
scenario runs on moto and in memory (`stores` fixture)."""

from __future__ import annotations

import pytest

from postal.errors import BadRequest
from postal.letters import LetterError, LetterEvent
from postal.letters.status import Guard, Move, StatusChange, cancel_on_disconnect, submit
from postal.models import LetterStatus
from postal.ports import ClaimOutcome, Stores
from tests.conformance.conftest import AT, connect, job, letter, new_org

LATER = "2026-12-02T10:05:00.000Z"
STALE_BEFORE = "2026-12-02T10:02:00.000Z"


def event(status: LetterStatus, at: str = LATER) -> LetterEvent:
    return LetterEvent(status=status.value, occurred_at=at, source="test")


def test_letters_apply_respects_the_sources_and_the_claim_guard(stores: Stores) -> None:
    org_id = new_org(stores)
    connect(stores, org_id)
    letter(stores, org_id, "let_1")
    handed = submit(LetterStatus.SUBMITTED, event(LetterStatus.SUBMITTED), at=LATER, message_id="m-1",
                    provider="sandbox", provider_letter_id="p-1")  # fmt: skip
    assert not stores.letters.apply(org_id, "let_1", handed)  # nobody claimed it
    outcome = stores.letters.claim(org_id, "let_1", generation=1, message_id="m-1", at=AT, stale_before=AT)
    assert outcome is ClaimOutcome.CLAIMED
    assert stores.letters.apply(org_id, "let_1", handed)
    assert not stores.letters.apply(org_id, "let_1", handed)  # not queued any more
    stored = stores.letters.get_raw(org_id, "let_1")
    assert stored is not None
    assert (stored["status"], stored["provider_letter_id"], "claim_message" in stored) == ("submitted", "p-1", False)
    assert stores.letters.find_by_provider_id(org_id, "sandbox", "p-1") == "let_1"
    assert [e.status for e in stores.letters.history(org_id, "let_1")] == ["queued", "submitted"]
    assert [lt.letter_id for lt in stores.letters.unsubmitted(org_id, "queued", 10)] == []
    assert stores.letters.count_letters(org_id, "submitted") == 1


def test_a_claim_is_fenced_by_the_connection_and_held_until_it_is_stale(stores: Stores) -> None:
    org_id = new_org(stores)
    connect(stores, org_id)
    letter(stores, org_id, "let_1")

    def claim(message_id: str, generation: int = 1, stale_before: str = AT) -> ClaimOutcome:
        return stores.letters.claim(
            org_id, "let_1", generation=generation, message_id=message_id, at=LATER, stale_before=stale_before
        )

    assert claim("m-1", generation=0) is ClaimOutcome.INTEGRATION_CHANGED
    assert claim("m-1") is ClaimOutcome.CLAIMED
    assert claim("m-1") is ClaimOutcome.CLAIMED  # its own redelivery
    assert claim("m-2") is ClaimOutcome.UNAVAILABLE
    assert claim("m-2", stale_before="2026-12-02T11:00:00.000Z") is ClaimOutcome.CLAIMED
    stores.letters.release_claim(org_id, "let_1", "m-1", LetterError(code="x", message="not ours"))
    raw = stores.letters.get_raw(org_id, "let_1")
    assert raw is not None
    assert (raw["claim_message"], raw["dispatch_attempts"], "last_error" in raw) == ("m-2", 3, False)


def test_a_redrive_needs_an_unreached_failure_and_a_user_cancel_a_stale_claim(stores: Stores) -> None:
    org_id = new_org(stores)
    letter(stores, org_id, "let_1", LetterStatus.FAILED)
    redrive = StatusChange(Move.REDRIVE, LetterStatus.QUEUED, event(LetterStatus.QUEUED), LATER, guard=Guard.UNREACHED)
    assert not stores.letters.apply(org_id, "let_1", redrive)  # failed for another reason
    letter(stores, org_id, "let_2")
    cancel = StatusChange(Move.CANCEL_BY_USER, LetterStatus.CANCELLED, event(LetterStatus.CANCELLED), LATER,
                          guard=Guard.CLAIM_STALE, guard_value=STALE_BEFORE)  # fmt: skip
    assert stores.letters.apply(org_id, "let_2", cancel)
    assert not stores.letters.apply(org_id, "let_2", cancel)


def test_apply_counted_counts_each_committed_change_once(stores: Stores) -> None:
    org_id = new_org(stores)
    connect(stores, org_id)
    job(stores, org_id)
    for n in range(3):
        letter(stores, org_id, f"let_{n}")
    stores.letters.claim(org_id, "let_2", generation=1, message_id="m-1", at=AT, stale_before=AT)
    change = cancel_on_disconnect(event(LetterStatus.CANCELLED), LATER, "integration_disconnected", unclaimed=True)
    batch = [(f"let_{n}", change) for n in (0, 1, 2, 0)]
    assert sorted(stores.letters.apply_counted(org_id, batch, "job_c", "letters")) == ["let_0", "let_1"]
    assert stores.letters.apply_counted(org_id, batch, "job_c", "letters") == []
    counted = stores.jobs.get_job(org_id, "job_c", consistent=True)
    assert (counted.done, counted.counts) == (2, {"letters": 2})
    assert [lt.letter_id for lt in stores.letters.unsubmitted(org_id, "queued", 10)] == ["let_2"]


def test_a_letter_is_created_once(stores: Stores) -> None:
    org_id = new_org(stores)
    created = letter(stores, org_id, "let_1")
    assert not stores.letters.create(created, [event(LetterStatus.QUEUED)])
    assert len(stores.letters.history(org_id, "let_1")) == 1
    assert stores.letters.set_provider_ref(org_id, "let_1", "sandbox", "p-1")
    assert not stores.letters.set_provider_ref(org_id, "let_1", "sandbox", "p-2")
    assert stores.letters.find_by_provider_id(org_id, "sandbox", "p-2") is None
    assert stores.letters.find_by_provider_id("org_other", "sandbox", "p-1") is None


def test_letters_page_newest_first_by_status_by_customer_and_by_id(stores: Stores) -> None:
    org_id = new_org(stores)
    for n in range(5):
        stored = letter(stores, org_id, f"let_{n}").model_copy(
            update={"letter_id": f"let_c{n}", "customer_id": "c1" if n % 2 else "c2"}
        )
        assert stores.letters.create(stored, [event(LetterStatus.QUEUED, f"2026-12-02T10:0{n}:00.000Z")])

    def every(**query: str | None) -> list[str]:
        seen, cursor = [], None
        while True:
            page, cursor = stores.letters.list(
                org_id,
                status=query.get("status"),
                customer_id=query.get("customer_id"),
                created_from=None,
                created_to=None,
                limit=2,
                cursor=cursor,
            )
            seen += [lt.letter_id for lt in page]
            if cursor is None:
                return seen

    everything = every()
    assert sorted(everything) == sorted([f"let_{n}" for n in range(5)] + [f"let_c{n}" for n in range(5)])
    assert everything == sorted(everything, reverse=True)
    assert sorted(every(status="queued")) == sorted(everything)
    assert every(customer_id="c1") == ["let_c3", "let_c1"]
    with pytest.raises(BadRequest):
        stores.letters.list("org_x", status=None, customer_id=None, created_from=None, created_to=None, limit=2,
                            cursor=stores.letters.list(org_id, status=None, customer_id=None, created_from=None,
                                                       created_to=None, limit=2, cursor=None)[1])  # fmt: skip

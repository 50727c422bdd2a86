"""The one letter state machine (postal.letters.status): its moves, sources and guards, evaluated in memory."""

from __future__ import annotations

import pytest

from postal.letters import FINAL, Letter, LetterError, LetterEvent, can_move
from postal.letters.status import RULES, Guard, Move, StatusChange, after, holds, submit
from postal.models import LetterStatus

S = LetterStatus
AT = "2026-12-02T10:00:00.000Z"


def event(status: LetterStatus) -> LetterEvent:
    return LetterEvent(status=status.value, occurred_at=AT, source="test")


def change(move: Move, target: LetterStatus, **kwargs: object) -> StatusChange:
    return StatusChange(move, target, event(target), AT, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("estimated", [False, True])
@pytest.mark.parametrize("target", sorted(RULES[Move.PROVIDER_UPDATE].targets))
def test_a_provider_update_moves_exactly_where_the_status_rules_allow(target: LetterStatus, estimated: bool) -> None:
    for current in S:
        item = {"status": current.value, "delivery_estimated": estimated}
        assert holds(change(Move.PROVIDER_UPDATE, target), item) == can_move(
            current, target, delivery_estimated=estimated
        ), (current, target)


def test_no_move_leaves_a_final_status_but_a_return_after_an_estimated_delivery() -> None:
    for move, rule in RULES.items():
        for target in rule.targets:
            for final in FINAL:
                guard = next(iter(rule.guards), None) if rule.guard_required else None
                c = change(move, target, guard=guard, guard_value="m-1" if guard else None)
                exit_ok = move is Move.PROVIDER_UPDATE and final is S.DELIVERED and target is S.UNDELIVERABLE
                item = {"status": final.value, "delivery_estimated": True, "claim_message": "m-1"}
                item |= {"awaiting_upload": True, "error": {"code": "provider_unavailable"}}
                if move is Move.REDRIVE and final is S.FAILED:
                    continue  # the redrive is the one way out of `failed`, and only for what never left us
                assert holds(c, item) is exit_ok, (move, target, final)


@pytest.mark.parametrize(
    ("move", "target", "kwargs", "problem"),
    [
        (Move.SUBMIT, S.DELIVERED, {"guard": Guard.CLAIMED_BY, "guard_value": "m"}, "cannot lead to"),
        (Move.SUBMIT, S.SUBMITTED, {}, "needs one of the guards"),
        (Move.FAIL, S.FAILED, {"guard": Guard.UNCLAIMED}, "does not take the guard"),
        (Move.REDRIVE, S.SUBMITTED, {"guard": Guard.UNREACHED}, "cannot lead to"),
        (Move.PROVIDER_UPDATE, S.QUEUED, {}, "cannot lead to"),
        (Move.FAIL, S.FAILED, {"fields": {"status": "sent"}}, "not one of its fields"),
    ],
)
def test_a_change_the_table_does_not_allow_cannot_be_built(
    move: Move, target: LetterStatus, kwargs: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        change(move, target, **kwargs)


def test_a_submission_is_recorded_only_by_the_dispatch_that_holds_the_claim() -> None:
    mine = submit(S.SUBMITTED, event(S.SUBMITTED), at=AT, message_id="m-1", provider="sandbox", provider_letter_id="p")
    assert holds(mine, {"status": "queued", "claim_message": "m-1"})
    assert not holds(mine, {"status": "queued", "claim_message": "m-2"})
    assert not holds(mine, {"status": "queued"})
    assert not holds(mine, {"status": "rendered", "claim_message": "m-1"})


def test_guards_hold_only_for_what_they_name() -> None:
    cascade = change(Move.CANCEL_ON_DISCONNECT, S.CANCELLED, guard=Guard.UNCLAIMED)
    assert holds(cascade, {"status": "queued"})
    assert not holds(cascade, {"status": "queued", "claim_message": "m"})
    by_user = change(Move.CANCEL_BY_USER, S.CANCELLED, guard=Guard.CLAIM_STALE, guard_value="2026-12-02T09:57")
    assert holds(by_user, {"status": "queued"})
    assert holds(by_user, {"status": "queued", "claimed_at": "2026-12-02T09:50"})
    assert not holds(by_user, {"status": "queued", "claimed_at": "2026-12-02T09:59"})
    upload = change(Move.UPLOAD, S.QUEUED, guard=Guard.AWAITING_UPLOAD)
    assert holds(upload, {"status": "created", "awaiting_upload": True})
    assert not holds(upload, {"status": "created", "awaiting_upload": False})
    redrive = change(Move.REDRIVE, S.QUEUED, guard=Guard.UNREACHED)
    assert holds(redrive, {"status": "failed", "error": {"code": "provider_unavailable"}})
    assert not holds(
        redrive, {"status": "failed", "error": {"code": "provider_unavailable"}, "provider_letter_id": "p"}
    )
    assert not holds(redrive, {"status": "failed", "error": {"code": "invalid_address"}})


def test_the_letter_after_a_change_is_what_its_event_reports() -> None:
    letter = Letter.model_validate(
        {
            "letter_id": "l1",
            "org_id": "o1",
            "status": "queued",
            "created_at": AT,
            "updated_at": AT,
            "provider": "sandbox",
            "postage": "economy",
            "pdf_key": "k",
            "page_count": 1,
            "sha256": "0" * 64,
            "recipient": {"name": "A", "lines": ["B 1"], "postal_code": "8001", "city": "Z", "country": "CH"},
        }
    )
    error = LetterError(code="provider_unavailable", message="down")
    failed = after(
        letter, change(Move.FAIL, S.FAILED, reason="provider_unavailable", error=error, fields={"page_count": 2})
    )
    assert (failed.status, failed.status_reason, failed.error, failed.page_count) == (
        S.FAILED,
        "provider_unavailable",
        error,
        2,
    )
    assert failed.updated_at == AT

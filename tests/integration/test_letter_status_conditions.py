"""The letters repository renders every move of the state machine into a DynamoDB condition that agrees with the
machine itself (`postal.letters.status.holds`, which the in-memory fake uses): every move, target, stored status and
guard state, applied to real items under moto."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from postal import bootstrap
from postal.letters import LetterEvent
from postal.letters.status import RULES, Guard, Move, StatusChange, holds
from postal.models import LetterStatus
from postal.store import keys
from postal.store.dynamo import serialize
from postal.store.letters import LetterRepository
from tests.conftest import Aws

AT = "2026-12-02T10:00:00.000Z"
STALE_BEFORE = "2026-12-02T09:57:00.000Z"
ORG = "org_conditions"

# What each guard can meet on a stored letter.
VARIANTS: dict[Guard | None, list[dict[str, Any]]] = {
    None: [{}],
    Guard.CLAIMED_BY: [{}, {"claim_message": "m-1", "claimed_at": AT}, {"claim_message": "m-2", "claimed_at": AT}],
    Guard.UNCLAIMED: [{}, {"claim_message": "m-2", "claimed_at": AT}],
    Guard.CLAIM_STALE: [
        {},
        {"claim_message": "m-2", "claimed_at": "2026-12-02T09:00:00.000Z"},
        {"claim_message": "m-2", "claimed_at": AT},
    ],
    Guard.AWAITING_UPLOAD: [{"awaiting_upload": True}, {"awaiting_upload": False}],
    Guard.UNREACHED: [
        {"error": {"code": "provider_unavailable", "message": "down"}},
        {"error": {"code": "provider_unavailable", "message": "down"}, "provider_letter_id": "p-1"},
        {"error": {"code": "invalid_address", "message": "no"}},
    ],
}
GUARD_VALUES = {Guard.CLAIMED_BY: "m-1", Guard.CLAIM_STALE: STALE_BEFORE}


def cases() -> Iterator[tuple[Move, LetterStatus, Guard | None, LetterStatus, dict[str, Any]]]:
    for move, rule in RULES.items():
        guards: list[Guard | None] = sorted(rule.guards) if rule.guard_required else [None, *sorted(rule.guards)]
        for target, guard, status in itertools.product(sorted(rule.targets), guards, LetterStatus):
            for variant in VARIANTS[guard]:
                yield move, target, guard, status, variant
            if move is Move.PROVIDER_UPDATE and status is LetterStatus.DELIVERED:
                yield move, target, guard, status, {"delivery_estimated": True}


def stored(letter_id: str, status: LetterStatus, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": keys.org_pk(ORG),
        "SK": keys.letter_sk(letter_id),
        "item_type": "letter",
        "letter_id": letter_id,
        "org_id": ORG,
        "status": status.value,
        "updated_at": AT,
        **extra,
    }


@pytest.mark.repository_only
@pytest.mark.parametrize("move", list(Move))
def test_the_repository_applies_a_move_exactly_when_the_machine_says_it_holds(aws: Aws, move: Move) -> None:
    repo = bootstrap.stores().letters
    assert isinstance(repo, LetterRepository)
    client, table = repo.client, repo.table
    checked = 0
    for n, (mv, target, guard, status, variant) in enumerate(c for c in cases() if c[0] is move):
        letter_id = f"l{n:04d}"
        item = stored(letter_id, status, variant)
        client.put_item(TableName=table, Item=serialize(item))
        event = LetterEvent(status=target.value, occurred_at=AT, source="test")
        change = StatusChange(
            mv, target, event, AT, guard=guard, guard_value=GUARD_VALUES.get(guard) if guard else None
        )
        expected = holds(change, item)
        assert repo.apply(ORG, letter_id, change) is expected, (mv, target, guard, status, variant)
        after = repo.get_raw(ORG, letter_id)
        assert after is not None
        assert after["status"] == (target.value if expected else status.value)
        assert len(repo.history(ORG, letter_id)) == (1 if expected else 0)
        checked += 1
    assert checked >= 10

"""The letter status state machine (providers.md §5.1), every pair of statuses against an explicit table."""

from __future__ import annotations

import itertools

import pytest

from postal.letters import FINAL, can_move, predecessors
from postal.models import LetterStatus as S

# Written out by hand from providers.md §5.1 (not derived from the code under test): target -> legal sources.
NON_FINAL = {S.CREATED, S.RENDERED, S.QUEUED, S.SUBMITTED, S.ACCEPTED, S.PRINTING, S.SENT}
EXPECTED: dict[S, set[S]] = {
    S.CREATED: set(),
    S.RENDERED: {S.CREATED},
    S.QUEUED: {S.CREATED, S.RENDERED},
    S.SUBMITTED: {S.CREATED, S.RENDERED, S.QUEUED},
    S.ACCEPTED: {S.CREATED, S.RENDERED, S.QUEUED, S.SUBMITTED},
    S.PRINTING: {S.CREATED, S.RENDERED, S.QUEUED, S.SUBMITTED, S.ACCEPTED},
    S.SENT: {S.CREATED, S.RENDERED, S.QUEUED, S.SUBMITTED, S.ACCEPTED, S.PRINTING},
    S.DELIVERED: NON_FINAL,
    S.UNDELIVERABLE: NON_FINAL,
    S.FAILED: NON_FINAL,
    S.CANCELLED: NON_FINAL - {S.SENT},  # withdrawn before it is handed to the carrier
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_follows_the_table(current: S, target: S) -> None:
    assert can_move(current, target) is (current in EXPECTED[target])


@pytest.mark.parametrize("final", sorted(FINAL))
def test_nothing_leaves_a_final_status(final: S) -> None:
    assert not any(can_move(final, target) for target in S)


def test_finals_are_exactly_the_four_of_the_spec() -> None:
    assert {S.DELIVERED, S.UNDELIVERABLE, S.FAILED, S.CANCELLED} == FINAL


@pytest.mark.parametrize("status", list(S))
def test_no_status_moves_to_itself(status: S) -> None:
    assert not can_move(status, status)


def test_forward_line_never_goes_backwards() -> None:
    line = [S.CREATED, S.RENDERED, S.QUEUED, S.SUBMITTED, S.ACCEPTED, S.PRINTING, S.SENT, S.DELIVERED]
    for i, j in itertools.combinations(range(len(line)), 2):
        assert can_move(line[i], line[j]), (line[i], line[j])  # forward, skipping allowed
        assert not can_move(line[j], line[i]), (line[j], line[i])


def test_return_after_an_estimated_delivery_is_the_only_exception() -> None:
    assert can_move(S.DELIVERED, S.UNDELIVERABLE, delivery_estimated=True)
    assert not can_move(S.DELIVERED, S.UNDELIVERABLE, delivery_estimated=False)
    for target in S:
        if target is not S.UNDELIVERABLE:
            assert not can_move(S.DELIVERED, target, delivery_estimated=True)


def test_predecessors_fit_in_one_dynamodb_in_clause() -> None:
    assert all(len(predecessors(t)) <= 100 for t in S)

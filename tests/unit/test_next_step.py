"""`catalog.next_step`: an invoice's next collection step by the sequence as it is now and its run history."""

from __future__ import annotations

import pytest

from postal.catalog import next_step, with_step_ids
from postal.errors import Conflict
from postal.models import CollectionStep, StepAction


def seq(*items: tuple[int, str] | tuple[int, str, str]) -> list[CollectionStep]:
    return with_step_ids(
        [
            CollectionStep(
                day_offset=i[0], template_id=i[1], action=StepAction.EMAIL, step_id=i[2] if len(i) > 2 else None
            )
            for i in items
        ]
    )


def nxt(steps: list[CollectionStep], ran: list[str]) -> str | None:
    step = next_step(steps, ran)
    return step.step_id if step else None


def test_nothing_run_starts_at_the_first_step() -> None:
    assert nxt(seq((0, "invoice"), (10, "reminder")), []) == "invoice"


def test_no_steps_means_no_next_step() -> None:
    assert nxt([], []) is None


def test_the_step_after_the_furthest_run_one_is_next() -> None:
    assert nxt(seq((0, "invoice"), (10, "reminder"), (20, "final_notice")), ["invoice"]) == "reminder"
    assert nxt(seq((0, "invoice"), (10, "reminder")), ["invoice", "reminder"]) is None


def test_a_step_inserted_before_the_furthest_run_one_is_not_gone_back_to() -> None:
    steps = seq((5, "letter"), (10, "reminder"), (20, "final_notice"))
    assert nxt(steps, ["reminder"]) == "final_notice"


def test_a_deleted_step_that_ran_no_longer_counts() -> None:
    assert nxt(seq((10, "reminder"), (20, "final_notice")), ["invoice"]) == "reminder"


def test_a_run_step_moved_behind_others_makes_them_passed() -> None:
    steps = seq((10, "final_notice"), (15, "reminder"), (30, "invoice"))
    assert nxt(steps, ["reminder"]) == "invoice"


def test_step_ids_come_from_the_template_and_its_later_uses() -> None:
    steps = seq((10, "reminder"), (20, "reminder"), (30, "reminder", "last-call"))
    assert [s.step_id for s in steps] == ["reminder", "reminder-2", "last-call"]


def test_repeated_step_ids_are_refused() -> None:
    with pytest.raises(Conflict) as raised:
        seq((10, "reminder", "x"), (20, "final_notice", "x"))
    assert raised.value.code == "duplicate_step_id"

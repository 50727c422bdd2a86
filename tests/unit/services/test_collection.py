"""The nightly collection run of an org (`postal.collection.run_org`) on the in-memory ports."""

from __future__ import annotations

from datetime import date

import pytest

from postal.collection import reconcile_org, run_org
from postal.collection.model import OrgRun
from postal.models import JobStatus, LetterStatus
from tests.fakes.memory import MemoryWorld
from tests.unit.services.conftest import ORG, customer, invoice, steps, template

DUE = date(2026, 11, 1)


class LetterDesk:
    """The letter sender a nightly run is given: one queued letter per idempotency key."""

    def __init__(self, world: MemoryWorld):
        self.world = world
        self.keys: dict[str, str] = {}

    def __call__(self, org_id: str, template_id: str, customer_id: str, invoice_id: str, key: str) -> str:
        if key not in self.keys:
            letter_id = f"let_{len(self.keys) + 1}"
            self.world.letter(org_id, letter_id, customer_id=customer_id)
            self.keys[key] = letter_id
        return self.keys[key]


@pytest.fixture
def desk(world: MemoryWorld) -> LetterDesk:
    world.connect(ORG)
    template(world, "tpl_rem", "email")
    template(world, "tpl_final", "post", kind="final_notice")
    customer(world, "cust_1", email="bob@example.com")
    steps(
        world,
        {"day_offset": 7, "template_id": "tpl_rem", "action": "email", "step_id": "remind"},
        {"day_offset": 14, "template_id": "tpl_final", "action": "post", "step_id": "final"},
        {"day_offset": 30, "template_id": "tpl_rem", "action": "manual_intervention", "step_id": "call"},
    )
    invoice(world, "inv_1", "cust_1", DUE)
    return LetterDesk(world)


def run(world: MemoryWorld, desk: LetterDesk, day: date) -> OrgRun:
    return run_org(world.stores, world.events, desk, ORG, day, world.now())


def test_a_due_step_runs_once_however_often_the_night_fires(world: MemoryWorld, desk: LetterDesk) -> None:
    first = run(world, desk, date(2026, 11, 10))
    again = run(world, desk, date(2026, 11, 10))
    assert (first.due, first.ran, again.due, again.ran) == (1, 1, 0, 0)
    due = list(world.published("CommunicationDue"))
    assert [(d["step_id"], d["channel"], d["invoice_id"]) for d in due] == [("remind", "email", "inv_1")]
    stored = world.stores.invoices.get_invoice(ORG, "inv_1")
    assert (stored.steps_run, stored.next_step_id, stored.next_due) == (["remind"], "final", date(2026, 11, 15))
    job = world.stores.jobs.get_job(ORG, "nightly-2026-11-10")
    assert (job.status, job.firings, job.total, job.counts["ran"]) == (JobStatus.COMPLETED, 2, 1, 1)
    assert world.stores.collection.get_step_run(ORG, "inv_1", "remind")["status"] == "done"  # type: ignore[index]


def test_a_post_step_makes_one_letter(world: MemoryWorld, desk: LetterDesk) -> None:
    run(world, desk, date(2026, 11, 10))
    run(world, desk, date(2026, 11, 20))
    run(world, desk, date(2026, 11, 20))
    assert list(desk.keys.values()) == ["let_1"]
    assert world.status_of(ORG, "let_1") is LetterStatus.QUEUED
    outcome = world.stores.collection.get_step_run(ORG, "inv_1", "final")
    assert outcome is not None and outcome["outcome"] == {"channels": ["post"], "letter_id": "let_1"}


def test_a_manual_step_opens_one_task(world: MemoryWorld, desk: LetterDesk) -> None:
    for day in (date(2026, 11, 10), date(2026, 11, 20), date(2026, 12, 5), date(2026, 12, 5)):
        run(world, desk, day)
    task = world.stores.tasks.get_task(ORG, "task_inv_1_call")
    assert (task.kind, task.invoice_id, task.customer_id) == ("manual_intervention", "inv_1", "cust_1")
    assert world.stores.invoices.get_invoice(ORG, "inv_1").next_step_id is None
    assert world.stores.invoices.due_invoice_ids(ORG, "2099-01-01", 10, None) == ([], None)


def test_an_edit_of_the_steps_reindexes_the_open_invoices_once(world: MemoryWorld, desk: LetterDesk) -> None:
    run(world, desk, date(2026, 11, 10))  # remind ran; final is due on the 15th
    steps(
        world,
        {"day_offset": 7, "template_id": "tpl_rem", "action": "email", "step_id": "remind"},
        {"day_offset": 40, "template_id": "tpl_final", "action": "post", "step_id": "final"},
    )
    moved = run(world, desk, date(2026, 11, 20))
    assert (moved.reindexed, moved.due, moved.ran) == (1, 0, 0)
    assert world.stores.invoices.get_invoice(ORG, "inv_1").next_due == date(2026, 12, 11)
    assert run(world, desk, date(2026, 11, 21)).reindexed == 0
    assert desk.keys == {}


def test_a_paid_invoice_runs_no_step(world: MemoryWorld, desk: LetterDesk) -> None:
    invoice(world, "inv_1", "cust_1", DUE, status="paid")
    assert run(world, desk, date(2026, 11, 20)).due == 0
    assert list(world.published("CommunicationDue")) == []


class BrokenDesk(LetterDesk):
    """A letter sender that fails `failures` times, then sends."""

    def __init__(self, world: MemoryWorld, failures: int):
        super().__init__(world)
        self.failures = failures

    def __call__(self, org_id: str, template_id: str, customer_id: str, invoice_id: str, key: str) -> str:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("rendering failed")
        return super().__call__(org_id, template_id, customer_id, invoice_id, key)


def reconcile(world: MemoryWorld, desk: LetterDesk, day: date) -> OrgRun:
    return reconcile_org(world.stores, world.events, desk, ORG, day, world.now())


def test_a_failed_step_is_recorded_and_done_again_by_reconciliation(world: MemoryWorld, desk: LetterDesk) -> None:
    broken = BrokenDesk(world, failures=1)
    run(world, broken, date(2026, 11, 10))
    failed = run(world, broken, date(2026, 11, 20))
    assert (failed.due, failed.failed) == (1, 1)
    job = world.stores.jobs.get_job(ORG, "nightly-2026-11-20")
    assert [(f.invoice_id, f.step_id, f.reason) for f in job.failures] == [
        ("inv_1", "final", "unexpected_error: RuntimeError")
    ]
    assert [r["step_id"] for r in world.stores.collection.pending_step_runs(ORG, 10)] == ["final"]
    retried = reconcile(world, broken, date(2026, 11, 21))
    assert (retried.due, retried.ran) == (1, 1)
    assert list(broken.keys.values()) == ["let_1"]
    assert world.stores.collection.pending_step_runs(ORG, 10) == []
    assert reconcile(world, broken, date(2026, 11, 22)).due == 0


def test_a_step_that_keeps_failing_is_handed_to_a_person(world: MemoryWorld, desk: LetterDesk) -> None:
    broken = BrokenDesk(world, failures=10)
    run(world, broken, date(2026, 11, 10))
    run(world, broken, date(2026, 11, 20))
    reconcile(world, broken, date(2026, 11, 21))
    gave_up = reconcile(world, broken, date(2026, 11, 22))
    assert gave_up.gave_up == ["inv_1#final"]
    assert world.stores.tasks.get_task(ORG, "task_inv_1_final_failed").kind == "step_failed"
    stored = world.stores.collection.get_step_run(ORG, "inv_1", "final")
    assert stored is not None and (stored["status"], stored["attempts"]) == ("gave_up", 3)
    assert reconcile(world, broken, date(2026, 11, 23)).due == 0
    assert broken.keys == {}

"""The nightly fan-out's store operations (batch reads, the claim of one run, a task step in one transaction, a
page's counts) behave the same on the moto repositories and on the in-memory fakes."""

from __future__ import annotations

from datetime import date

from postal.models import Task, TaskKind
from postal.ports import Stores
from tests.conformance.conftest import AT, customer, invoice, job, new_org

LATER = "2026-12-02T10:05:00.000Z"


def test_batch_reads_return_what_exists_by_id(stores: Stores) -> None:
    org_id = new_org(stores)
    customer(stores, org_id, "c1")
    customer(stores, org_id, "c2")
    invoice(stores, org_id, "inv_1")
    assert sorted(stores.customers.get_customers(org_id, ["c1", "c2", "c9", "c1"])) == ["c1", "c2"]
    found, unreadable = stores.invoices.get_invoices(org_id, ["inv_1", "inv_9"])
    assert (sorted(found), unreadable) == (["inv_1"], {})
    assert stores.customers.get_customers(new_org(stores, "org_other"), ["c1"]) == {}


def test_a_run_claims_an_invoice_once_even_when_its_next_step_stays_due(stores: Stores) -> None:
    org_id = new_org(stores)
    first = invoice(stores, org_id, "inv_1", next_step_id="s1", next_due=date(2026, 11, 20))
    # The claimed step moves next_due onto a date still inside the run: the same run must not claim it again.
    advanced = first.model_copy(update={"next_step_id": "s2", "next_due": date(2026, 11, 21), "updated_at": LATER})
    run1 = {"step_id": "s1", "invoice_id": "inv_1", "claimed_at": LATER, "status": "pending"}
    assert stores.collection.claim_step(org_id, first, advanced, run1, run_key="run-1")
    again = stores.invoices.get_invoice(org_id, "inv_1", consistent=True)
    later = again.model_copy(update={"next_step_id": None, "next_due": None, "updated_at": LATER})
    run2 = {**run1, "step_id": "s2"}
    assert not stores.collection.claim_step(org_id, again, later, run2, run_key="run-1")
    assert stores.collection.claim_step(org_id, again, later, run2, run_key="run-2")  # the next night's run
    assert stores.invoices.get_invoice(org_id, "inv_1", consistent=True).steps_run == ["s1", "s2"]


def test_a_task_step_is_claimed_done_and_its_task_opened_together(stores: Stores) -> None:
    org_id = new_org(stores)
    first = invoice(stores, org_id, "inv_1", next_step_id="s1", next_due=date(2026, 11, 20))
    advanced = first.model_copy(update={"next_step_id": None, "next_due": None, "updated_at": LATER})
    task = Task(task_id="task_inv_1_s1", org_id=org_id, kind=TaskKind.LETTER_TASK, created_at=LATER)
    run = {"step_id": "s1", "invoice_id": "inv_1", "claimed_at": LATER, "status": "done"}
    assert stores.collection.claim_task_step(org_id, first, advanced, run, task, run_key="run-1") is True
    assert stores.tasks.get_task(org_id, task.task_id).kind is TaskKind.LETTER_TASK
    assert stores.collection.claim_task_step(org_id, first, advanced, run, task, run_key="run-2") is False
    # Only the task exists already (another step of the same invoice opened it): nothing is written.
    second = invoice(stores, org_id, "inv_2", next_step_id="s1", next_due=date(2026, 11, 20))
    run_2 = {**run, "invoice_id": "inv_2"}
    moved = second.model_copy(update={"next_step_id": None, "next_due": None, "updated_at": LATER})
    assert stores.collection.claim_task_step(org_id, second, moved, run_2, task) is None
    assert stores.collection.get_step_run(org_id, "inv_2", "s1") is None
    assert stores.invoices.get_invoice(org_id, "inv_2", consistent=True).steps_run == []


def test_a_pages_counts_add_up_on_the_job(stores: Stores) -> None:
    org_id = new_org(stores)
    job(stores, org_id, "nightly-2026-12-02")
    assert stores.jobs.add_job_counts(org_id, "nightly-2026-12-02", {"letters": 2}, AT, done=3, total=5) == (3, 5)
    assert stores.jobs.add_job_counts(org_id, "nightly-2026-12-02", {"letters": 1, "tasks": 1}, LATER, done=2) == (
        5,
        5,
    )
    counts = stores.jobs.get_job(org_id, "nightly-2026-12-02", consistent=True).counts
    assert (counts["letters"], counts["tasks"]) == (3, 1)

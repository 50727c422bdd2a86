"""The fakes honour the repositories' conditions: each scenario runs on moto and in memory (`stores` fixture)."""

from __future__ import annotations

from datetime import date

import pytest

from postal.errors import BadRequest, Conflict, NotConnected, PreconditionFailed
from postal.letters import LetterEvent
from postal.models import (
    Channel,
    Customer,
    CustomPdf,
    IntegrationStatus,
    Job,
    JobFailure,
    JobStatus,
    LetterStatus,
    Org,
    Task,
    TaskKind,
    TaskQuery,
    TaskStatus,
    Template,
    TemplateCheck,
    TemplateKind,
)
from postal.ports import Stores
from tests.conformance.conftest import AT, connect, customer, invoice, job, new_org

LATER = "2026-12-02T10:05:00.000Z"
STALE_BEFORE = "2026-12-02T10:02:00.000Z"


def event(status: LetterStatus, at: str = LATER) -> LetterEvent:
    return LetterEvent(status=status.value, occurred_at=at, source="test")


def template(template_id: str = "tpl_1", channel: Channel = Channel.POST) -> Template:
    return Template(template_id=template_id, kind=TemplateKind.INVOICE, default_channel=channel, updated_at=AT)


def test_an_org_is_created_once(stores: Stores) -> None:
    # (A retry with the same request token succeeds on DynamoDB and in memory, but moto ignores the token.)
    org = Org(org_id="org_once", name="Once", created_at=AT)
    stores.orgs.create_org(org, "hash-a")
    with pytest.raises(Conflict) as refused:
        stores.orgs.create_org(org, "hash-b")
    assert refused.value.code == "org_exists"
    assert stores.orgs.org_for_key("hash-a") == "org_once"
    assert stores.orgs.org_for_key("hash-b") is None
    assert list(stores.orgs.iter_org_ids()) == ["org_once"]


def test_connect_from_a_stale_generation_conflicts_and_disconnect_moves_the_generation_on(stores: Stores) -> None:
    org_id = new_org(stores)
    connected = connect(stores, org_id)
    with pytest.raises(Conflict) as stale:
        stores.integrations.connect(connected, expected_generation=0)
    assert stale.value.code == "integration_changed"
    cascade = job(stores, org_id).model_copy(update={"job_id": "job_disconnect"})
    after = stores.integrations.disconnect(org_id, cascade, AT)
    stored = stores.integrations.get_integration(org_id, consistent=True)
    assert (after.generation, stored.generation, stored.status) == (2, 2, IntegrationStatus.DISCONNECTED)
    assert stored.last_job_id == "job_disconnect"
    assert stores.jobs.get_job(org_id, "job_disconnect").status == "running"
    assert stores.integrations.secret_refs(org_id) == ["ref-1"]
    with pytest.raises(Conflict):
        stores.integrations.disconnect(org_id, cascade, AT)


def test_a_write_requiring_the_connection_fails_while_disconnected_and_writes_nothing(stores: Stores) -> None:
    org_id = new_org(stores)
    with pytest.raises(NotConnected):
        stores.templates.put_template(org_id, template(), requires_connected=True)
    with pytest.raises(NotConnected):
        stores.collection.put_steps(org_id, [], AT, requires_connected=True)
    assert stores.templates.find_template(org_id, "tpl_1") is None
    assert stores.collection.get_steps(org_id) == ([], None)
    connect(stores, org_id)
    stores.templates.put_template(org_id, template(), requires_connected=True)
    assert stores.templates.get_template(org_id, "tpl_1").default_channel is Channel.POST


def test_a_template_post_is_reverted_once_and_counted_once(stores: Stores) -> None:
    org_id = new_org(stores)
    stores.templates.put_template(org_id, template(), requires_connected=False)
    job(stores, org_id)
    assert stores.templates.revert_template_post(org_id, "tpl_1", LATER, "job_c")
    assert not stores.templates.revert_template_post(org_id, "tpl_1", LATER, "job_c")
    counted = stores.jobs.get_job(org_id, "job_c", consistent=True)
    assert (counted.done, counted.counts) == (1, {"templates": 1})
    assert stores.templates.get_template(org_id, "tpl_1").default_channel is Channel.EMAIL


def test_a_step_is_claimed_once_per_invoice_and_moves_the_invoice_in_the_due_index(stores: Stores) -> None:
    org_id = new_org(stores)
    first = invoice(stores, org_id, "inv_1", next_step_id="s1", next_due=date(2026, 11, 20))
    invoice(stores, org_id, "inv_2", next_step_id="s1", next_due=date(2026, 12, 20))
    assert stores.invoices.due_invoice_ids(org_id, "2026-12-02", 10, None) == (["inv_1"], None)
    advanced = first.model_copy(update={"next_step_id": None, "next_due": None, "updated_at": LATER})
    run = {"step_id": "s1", "invoice_id": "inv_1", "claimed_at": LATER, "status": "pending"}
    assert stores.collection.claim_step(org_id, first, advanced, run)
    assert not stores.collection.claim_step(org_id, first, advanced, run)
    stored = stores.invoices.get_invoice(org_id, "inv_1", consistent=True)
    assert (stored.steps_run, stored.next_due, stored.updated_at) == (["s1"], None, LATER)
    assert stores.invoices.due_invoice_ids(org_id, "2026-12-31", 10, None)[0] == ["inv_2"]
    assert [r["step_id"] for r in stores.collection.pending_step_runs(org_id, 10)] == ["s1"]
    stores.collection.finish_step_run(org_id, "inv_1", "s1", {"letters": 1})
    assert stores.collection.pending_step_runs(org_id, 10) == []


def test_next_step_is_set_only_on_the_invoice_as_it_was_read(stores: Stores) -> None:
    org_id = new_org(stores)
    read = invoice(stores, org_id, "inv_1", next_step_id="s1", next_due=date(2026, 11, 20))
    moved = read.model_copy(update={"next_step_id": "s2", "next_due": date(2026, 11, 30)})
    stale = read.model_copy(update={"updated_at": "2026-12-01T00:00:00.000Z"})
    assert not stores.invoices.set_next_step(org_id, stale, moved)
    assert stores.invoices.set_next_step(org_id, read, moved)
    assert stores.invoices.get_invoice(org_id, "inv_1").next_step_id == "s2"


def test_open_invoices_page_through_every_invoice_and_refuse_another_orgs_cursor(stores: Stores) -> None:
    org_id = new_org(stores)
    new_org(stores, "org_other")
    for n in range(5):
        invoice(stores, org_id, f"inv_{n}")
    invoice(stores, org_id, "inv_paid", status="paid")
    seen, cursor = [], None
    while True:
        page, unreadable, cursor = stores.invoices.open_invoices(org_id, 2, cursor)
        assert unreadable == []
        seen += [i.invoice_id for i in page]
        if cursor is None:
            break
        with pytest.raises(BadRequest):
            stores.invoices.open_invoices("org_other", 2, cursor)
    assert seen == [f"inv_{n}" for n in range(5)]


def test_customers_are_reset_once_and_leave_the_sparse_index(stores: Stores) -> None:
    org_id = new_org(stores)
    job(stores, org_id)
    customer(stores, org_id, "c_post", preference="post")
    customer(stores, org_id, "c_paper", preference="email", paper_invoice=True)
    customer(stores, org_id, "c_email", preference="email")
    assert sorted(stores.customers.postal_customers(org_id, 10)) == [("c_paper", False), ("c_post", True)]
    assert stores.customers.count_postal_preferences(org_id) == (1, 1)
    assert stores.customers.clear_customers_post(org_id, ["c_post", "c_paper", "c_post"], LATER, "job_c") == 1
    assert stores.customers.clear_customers_paper(org_id, ["c_paper", "c_post"], LATER, "job_c") == 1
    assert stores.customers.clear_customers_post(org_id, ["c_post"], LATER, "job_c") == 0
    assert stores.customers.postal_customers(org_id, 10) == []
    assert stores.jobs.get_job(org_id, "job_c", consistent=True).counts == {"customers": 2}
    assert stores.customers.get_customer(org_id, "c_paper").preference is Channel.EMAIL
    assert not stores.customers.mark_address_returned(org_id, "c_missing", LATER)


def test_a_webhook_event_is_marked_once_until_forgotten(stores: Stores) -> None:
    org_id = new_org(stores)
    assert stores.dedupe.mark_webhook_event(org_id, "sandbox", "evt_1", expires_at=2_000_000_000)
    assert not stores.dedupe.mark_webhook_event(org_id, "sandbox", "evt_1", expires_at=2_000_000_000)
    stores.dedupe.forget_webhook_event(org_id, "sandbox", "evt_1")
    assert stores.dedupe.mark_webhook_event(org_id, "sandbox", "evt_1", expires_at=2_000_000_000)


def test_a_job_is_created_once_and_finished_once(stores: Stores) -> None:
    org_id = new_org(stores)
    first = job(stores, org_id)
    again = stores.jobs.ensure_job(first.model_copy(update={"kind": "other"}))
    assert again.kind == "disconnect_cascade"
    stores.jobs.set_job_total(org_id, "job_c", 4, {"letters": 0})
    stores.jobs.set_job_total(org_id, "job_c", 9, {"letters": 0})
    assert stores.jobs.finish_job(org_id, "job_c", LATER)
    assert not stores.jobs.finish_job(org_id, "job_c", LATER)
    done = stores.jobs.get_job(org_id, "job_c", consistent=True)
    assert (done.status, done.total, done.phase, done.finished_at) == ("completed", 4, "done", LATER)
    assert stores.jobs.running_job(org_id, "job_c") is None


def test_a_task_is_opened_once_and_completed_once(stores: Stores) -> None:
    org_id = new_org(stores)
    task = Task(task_id="task_1", org_id=org_id, kind=TaskKind.FIX_ADDRESS, customer_id="c1", created_at=AT)
    assert stores.tasks.open_task(task)
    assert not stores.tasks.open_task(task.model_copy(update={"note": "again"}))
    done = stores.tasks.complete_task(org_id, "task_1", LATER)
    assert (done.status, done.completed_at) == (TaskStatus.DONE, LATER)
    assert stores.tasks.complete_task(org_id, "task_1", "2026-12-03T00:00:00.000Z").completed_at == LATER
    assert not stores.tasks.open_task(task)  # a person's completion is never undone
    open_page, _ = stores.tasks.list_tasks(org_id, TaskQuery(status=TaskStatus.OPEN), 10, None)
    done_page, _ = stores.tasks.list_tasks(org_id, TaskQuery(status=TaskStatus.DONE), 10, None)
    assert (open_page, [t.task_id for t in done_page]) == ([], ["task_1"])


def test_a_check_is_recorded_only_for_the_pdf_that_was_checked(stores: Stores) -> None:
    org_id = new_org(stores)
    stores.templates.put_template(org_id, template(channel=Channel.EMAIL), requires_connected=False)
    pdf = CustomPdf(s3_key="templates/t.pdf", sha256="a" * 64, size=10, uploaded_at=AT)
    stores.templates.set_template_pdf(org_id, "tpl_1", pdf, AT, keep_check=False)
    check = TemplateCheck(ok=True, checked_at=LATER, zone_id="din_5008_b", pdf_sha256="b" * 64)
    with pytest.raises(Conflict):
        stores.templates.set_template_check(org_id, "tpl_1", check)
    checked = stores.templates.set_template_check(org_id, "tpl_1", check.model_copy(update={"pdf_sha256": "a" * 64}))
    assert checked.check is not None and checked.check.ok
    dropped = stores.templates.set_template_pdf(org_id, "tpl_1", pdf, LATER, keep_check=False)
    assert dropped.check is None


def test_the_firings_of_a_dated_job_are_counted_and_the_last_completes_it(stores: Stores) -> None:
    org_id = new_org(stores)
    nightly = Job(job_id="nightly-x", org_id=org_id, kind="nightly", status=JobStatus.RUNNING, started_at=AT,
                  counts={"ran": 0})  # fmt: skip
    stores.jobs.start_firing(nightly, AT)
    stores.jobs.start_firing(nightly, AT)
    stores.jobs.add_job_total(org_id, "nightly-x", 3, AT)
    stores.jobs.tick_job(org_id, "nightly-x", "ran", LATER)
    for n in range(3):
        stores.jobs.add_job_failure(org_id, "nightly-x", JobFailure(reason=f"r{n}", at=LATER), cap=2)
    stores.jobs.finish_firing(org_id, "nightly-x", LATER)
    assert stores.jobs.get_job(org_id, "nightly-x", consistent=True).status is JobStatus.RUNNING
    stores.jobs.finish_firing(org_id, "nightly-x", LATER)
    done = stores.jobs.get_job(org_id, "nightly-x", consistent=True)
    assert (done.status, done.firings, done.total, done.done, done.counts) == (JobStatus.COMPLETED, 2, 3, 1, {"ran": 1})
    assert [f.reason for f in done.failures] == ["r0", "r1"]


def test_a_customer_with_post_needs_the_connection(stores: Stores) -> None:
    org_id = new_org(stores)
    post = Customer(customer_id="c1", name="Bob", updated_at=AT, preference=Channel.POST)
    with pytest.raises(NotConnected):
        stores.customers.put_customer(org_id, post, requires_connected="post")
    assert stores.customers.count_post_customers(org_id) == 0
    connect(stores, org_id)
    stores.customers.put_customer(org_id, post, requires_connected="post")
    assert stores.customers.count_post_customers(org_id) == 1


def test_a_disconnect_whose_job_exists_already_changes_nothing(stores: Stores) -> None:
    org_id = new_org(stores)
    connect(stores, org_id)
    existing = job(stores, org_id)
    with pytest.raises(Conflict):
        stores.integrations.disconnect(org_id, existing, LATER)  # all or nothing: the integration stays connected
    stored = stores.integrations.get_integration(org_id, consistent=True)
    assert (stored.status, stored.generation, stored.last_job_id) == (IntegrationStatus.CONNECTED, 1, None)


def test_an_org_is_updated_only_as_it_was_read(stores: Stores) -> None:
    org_id = new_org(stores)
    read = stores.orgs.get_org(org_id, consistent=True)
    renamed = read.model_copy(update={"name": "Renamed", "updated_at": LATER})
    stores.orgs.update_org(renamed, read.updated_at)
    with pytest.raises(PreconditionFailed):
        stores.orgs.update_org(read.model_copy(update={"name": "Lost", "updated_at": LATER}), read.updated_at)
    stores.orgs.update_org(renamed.model_copy(update={"name": "Again"}), LATER)
    assert stores.orgs.get_org(org_id, consistent=True).name == "Again"
    assert list(stores.orgs.iter_org_ids()) == [org_id]


def test_an_api_key_rotation_revokes_the_old_key(stores: Stores) -> None:
    org_id = new_org(stores)
    stores.orgs.rotate_api_key(org_id, "hash-new", LATER)
    assert (stores.orgs.org_for_key("hash-new"), stores.orgs.org_for_key(f"hash-{org_id}")) == (org_id, None)
    new_org(stores, "org_other")
    with pytest.raises(PreconditionFailed):
        stores.orgs.rotate_api_key(org_id, "hash-org_other", LATER)  # another org's key: nothing changes
    assert (stores.orgs.org_for_key("hash-new"), stores.orgs.org_for_key("hash-org_other")) == (org_id, "org_other")


def test_the_due_index_is_marked_for_the_steps_it_follows(stores: Stores) -> None:
    org_id = new_org(stores)
    assert stores.collection.steps_indexed(org_id, None)
    stores.collection.put_steps(org_id, [], AT, requires_connected=False)
    assert not stores.collection.steps_indexed(org_id, AT)
    stores.collection.mark_steps_indexed(org_id, "2026-12-01T00:00:00.000Z")  # other steps: no mark
    assert not stores.collection.steps_indexed(org_id, AT)
    stores.collection.mark_steps_indexed(org_id, AT)
    assert stores.collection.steps_indexed(org_id, AT)
    stores.collection.put_steps(org_id, [], LATER, requires_connected=False)
    assert not stores.collection.steps_indexed(org_id, LATER)

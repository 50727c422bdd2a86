"""The nightly run fanned out (issue 15): the schedule's invocation starts one message per org on the collection
queue, and `nightly_pages` runs each org one bounded page per message, through the real handlers under moto."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest

from postal import bootstrap
from postal.models.jobs import RUN_SCOPE
from tests.apigw import FakeLambdaContext, handler
from tests.conftest import Api, Aws, Org
from tests.integration.test_collection import ADDRESS, put

DAY = "2026-11-08"


def fire(day: str = DAY) -> dict[str, Any]:
    """The schedule's invocation (its Input, with the date a test runs for)."""
    return dict(handler("collection")({"job": "nightly-collection", "fan_out": True, "date": day}, FakeLambdaContext()))


def queued(aws: Aws) -> int:
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.resources.queue_url("CollectionQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def job(api: Api, org: Org, job_id: str = f"nightly-{DAY}") -> dict[str, Any]:
    reply = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/{job_id}", key=org.key)
    assert reply.status == 200, reply.body
    return reply.json


def run_job(run_key: str) -> dict[str, Any]:
    return bootstrap.stores().jobs.get_job(RUN_SCOPE, run_key, consistent=True).model_dump()


def new_org(api: Api, steps: list[dict[str, Any]], invoices: dict[str, str]) -> Org:
    """A connected org with email/post templates, one customer with an address, `steps` and `invoices`
    (id -> due date)."""
    org = api.new_org()
    assert api.connect(org).status == 200
    put(api, org, "/templates/invoice", {"kind": "invoice", "default_channel": "email", "language": "de"})
    put(api, org, "/templates/reminder", {"kind": "reminder", "default_channel": "email", "language": "de"})
    put(api, org, "/collection-steps", {"steps": steps})
    put(api, org, "/customers/c1", {"name": "Jana Müller", "billing_address": ADDRESS})
    for invoice_id, due in invoices.items():
        body = {
            "customer_id": "c1",
            "number": invoice_id,
            "issue_date": "2026-10-01",
            "due_date": due,
            "currency": "EUR",
            "open_amount": "120.00",
            "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}],
        }
        put(api, org, f"/invoices/{invoice_id}", body)
    return org


POST_THEN_TASK = [
    {"day_offset": 0, "template_id": "reminder", "action": "post"},
    {"day_offset": 30, "template_id": "reminder", "action": "manual_intervention"},
]
EMAIL_THEN_TASK = [
    {"day_offset": 0, "template_id": "invoice", "action": "email"},
    {"day_offset": 3, "template_id": "reminder", "action": "letter_task"},
]


def steps_run(api: Api, org: Org, invoice_id: str) -> list[str]:
    reply = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/invoices/{invoice_id}", key=org.key)
    assert reply.status == 200, reply.body
    return list(reply.json["steps_run"])


def test_the_schedule_starts_one_message_per_org_and_the_pages_send_each_orgs_letters(aws: Aws, api: Api) -> None:
    post = new_org(api, POST_THEN_TASK, {"p1": "2026-11-01", "p2": "2026-11-02", "p3": "2026-12-01"})
    mixed = new_org(api, EMAIL_THEN_TASK, {"m1": "2026-11-01", "m2": "2026-11-07"})
    started = fire()
    assert started["orgs"] == 2 and queued(aws) == 2  # the schedule's invocation runs no step itself
    assert job(api, post)["status"] == "running"
    aws.drain("CollectionQueue", "nightly_pages")

    night = job(api, post)
    assert (night["status"], night["done"], night["total"]) == ("completed", 2, 2)
    assert {k: night["counts"][k] for k in ("ran", "letters", "failed")} == {"ran": 2, "letters": 2, "failed": 0}
    letters = api("letters_api", "GET", f"/v1/orgs/{post.org_id}/letters", key=post.key).json["letters"]
    assert sorted(i["status"] for i in letters) == ["queued", "queued"]
    # m1: the email step ran, then its letter task's day (11-04) is inside the run: it waits for the next run.
    other = job(api, mixed)
    assert (other["status"], other["counts"]["ran"], other["counts"]["events"]) == ("completed", 2, 2)
    run = run_job(started["run_key"])
    assert (run["status"], run["done"], run["total"]) == ("completed", 2, 2)
    assert {k: run["counts"][k] for k in ("due", "ran", "letters", "events")} == {
        "due": 4,
        "ran": 4,
        "letters": 2,
        "events": 2,
    }


def test_firing_again_the_same_night_changes_nothing(aws: Aws, api: Api) -> None:
    org = new_org(api, POST_THEN_TASK, {"p1": "2026-11-01"})
    fire()
    aws.drain("CollectionQueue", "nightly_pages")
    again = fire()
    aws.drain("CollectionQueue", "nightly_pages")
    letters = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json["letters"]
    assert len(letters) == 1
    assert steps_run(api, org, "p1") == ["reminder"]
    assert run_job(again["run_key"])["counts"].get("ran", 0) == 0
    assert job(api, org)["firings"] == 2


def test_an_org_pages_through_its_due_invoices_and_runs_each_once_per_run(
    aws: Aws, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLECTION_PAGE_SIZE", "2")
    bootstrap.reset()
    # Day 0 and day 1: claiming day 0 moves next_due one day on, still inside the run, so a later page of the
    # same run meets the invoice again; the claim records the run and it does not run a second step.
    steps = [
        {"day_offset": 0, "template_id": "invoice", "action": "email"},
        {"day_offset": 1, "template_id": "reminder", "action": "email"},
    ]
    org = new_org(api, steps, {f"i{n}": f"2026-11-0{n}" for n in range(1, 6)})
    started = fire()
    rounds = aws.drain("CollectionQueue", "nightly_pages")
    assert rounds >= 3  # five due invoices, two a page
    assert all(steps_run(api, org, f"i{n}") == ["invoice"] for n in range(1, 6))
    night = job(api, org)
    assert (night["status"], night["counts"]["ran"], night["counts"]["failed"]) == ("completed", 5, 0)
    assert night["counts"]["skipped_claimed"] >= 1
    assert run_job(started["run_key"])["counts"]["ran"] == 5
    fire(day="2026-11-09")  # the next night runs the next step
    aws.drain("CollectionQueue", "nightly_pages")
    assert steps_run(api, org, "i1") == ["invoice", "reminder"]


def test_one_orgs_broken_data_fails_its_own_job_and_no_other(aws: Aws, api: Api) -> None:
    from postal.store import keys
    from postal.store.dynamo import serialize

    good = new_org(api, POST_THEN_TASK, {"p1": "2026-11-01"})
    broken = api.new_org()
    # A steps item no model accepts (written before today's validation): reading it raises for this org only.
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE_NAME"],
        Item=serialize({"PK": keys.org_pk(broken.org_id), "SK": keys.STEPS_SK, "steps": [{"day_offset": "soon"}]}),
    )
    started = fire()
    aws.drain("CollectionQueue", "nightly_pages")
    failed = job(api, broken)
    assert failed["status"] == "failed" and failed["failures"][0]["reason"].startswith("unexpected_error: ")
    assert (job(api, good)["status"], job(api, good)["counts"]["letters"]) == ("completed", 1)
    run = run_job(started["run_key"])
    assert (run["status"], run["done"], run["counts"]["orgs_failed"]) == ("completed", 2, 1)


def test_a_manual_run_of_one_org_still_runs_in_its_invocation(aws: Aws, api: Api) -> None:
    org = new_org(api, POST_THEN_TASK, {"p1": "2026-11-01"})
    summary = handler("collection")(
        {"job": "nightly-collection", "date": DAY, "org_id": org.org_id}, FakeLambdaContext()
    )
    assert summary["orgs"][0]["ran"] == 1 and queued(aws) == 0


def test_a_nightly_letter_costs_five_dynamodb_requests_plus_its_share_of_the_page(aws: Aws, api: Api) -> None:
    letters = 10
    org = new_org(api, POST_THEN_TASK, {f"p{n}": "2026-11-01" for n in range(letters)})
    fire()
    calls: list[str] = []
    dynamodb = bootstrap.client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb", lambda event_name, **_: calls.append(event_name))
    aws.drain("CollectionQueue", "nightly_pages")
    made = list(calls)
    assert job(api, org)["counts"]["letters"] == letters
    # Per letter: the claim, the integration's `connected` fence, the idempotency key, the letter with its
    # history, the step run's finish. Per page: the steps, the org, the integration, the templates, the due
    # index, one batch read of the invoices and one of the customers, the job's counts and its finish (2), the
    # run's job (2); and here, the first night after the steps were put, the re-index (3).
    per_page = len(made) - 5 * letters
    assert 0 < per_page <= 15, " ".join(c.split(".")[-1] for c in made)


TASK_FIRST = [{"day_offset": 0, "template_id": "reminder", "action": "manual_intervention"}]


def test_a_task_step_is_claimed_done_and_its_task_opened_in_one_transaction(aws: Aws, api: Api) -> None:
    from postal.collection.steps import step_task
    from postal.models import CollectionStep

    org = new_org(api, TASK_FIRST, {"t1": "2026-11-01", "t2": "2026-11-02"})
    # t2's task exists already (opened by hand): its step is still claimed, done and moved past.
    stores = bootstrap.stores()
    t2 = stores.invoices.get_invoice(org.org_id, "t2")
    step = CollectionStep.model_validate({**TASK_FIRST[0], "step_id": t2.next_step_id})
    assert stores.tasks.open_task(step_task(org.org_id, t2, step, "2026-11-01T00:00:00Z"))
    fire()
    calls: list[str] = []
    bootstrap.client("dynamodb").meta.events.register(
        "before-call.dynamodb.TransactWriteItems", lambda event_name, **_: calls.append(event_name)
    )
    aws.drain("CollectionQueue", "nightly_pages")
    assert len(calls) == 3  # t1: one; t2: the failed one with its task, then the claim alone
    night = job(api, org)
    assert (night["counts"]["ran"], night["counts"]["tasks"], night["counts"]["failed"]) == (2, 2, 0)
    tasks = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]
    assert sorted(t["invoice_id"] for t in tasks) == ["t1", "t2"]
    for invoice_id in ("t1", "t2"):
        assert steps_run(api, org, invoice_id) == [t2.next_step_id]
        run = stores.collection.get_step_run(org.org_id, invoice_id, str(t2.next_step_id))
        assert run is not None and run["status"] == "done"
        assert run["outcome"] == {"task_id": f"task_{invoice_id}_{t2.next_step_id}"}
    assert stores.collection.pending_step_runs(org.org_id, limit=10) == []
    fire()  # firing again opens no task twice
    aws.drain("CollectionQueue", "nightly_pages")
    assert len(api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]) == 2


def test_a_page_that_fails_on_something_else_than_data_is_delivered_again(
    aws: Aws, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postal.store.invoices import InvoiceRepository

    org = new_org(api, POST_THEN_TASK, {"p1": "2026-11-01", "p2": "2026-11-01"})
    real = InvoiceRepository.get_invoices
    failures = iter([RuntimeError("throttled")])

    def flaky(self: InvoiceRepository, *args: Any, **kwargs: Any) -> Any:
        for exc in failures:
            raise exc
        return real(self, *args, **kwargs)

    monkeypatch.setattr(InvoiceRepository, "get_invoices", flaky)
    fire()
    rounds = aws.drain("CollectionQueue", "nightly_pages")
    assert rounds == 2  # the failed delivery, then the page
    night = job(api, org)
    assert (night["status"], night["counts"]["letters"], night.get("failures", [])) == ("completed", 2, [])

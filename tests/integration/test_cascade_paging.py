"""How the cascade pages, under plain moto: batched writes with exact counts, and the settle pass.

`CustomerRepository.clear_customers_post` and `postal.letters.changes.change_many` commit up to a transaction-full of
conditional changes with one ADD on the job; a change whose condition fails (already cleared, never post, held by
a dispatch, gone) cancels the transaction, is dropped by its cancellation reason, and the rest commit.

A GSI shows a write a moment after it commits, so when the cascade first finds nothing left it re-enqueues itself
with a delay and looks again before it finishes the job.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from bench.bench_cascade import seed_org
from postal import bootstrap, integration
from postal.clock import now_iso
from postal.letters import LetterEvent
from postal.letters.changes import change_many
from postal.letters.status import cancel_on_disconnect
from postal.models import Channel, Job, JobStatus
from postal.ports import Stores
from postal.store import keys
from postal.store.customers import CustomerRepository
from postal.store.dynamo import deserialize, serialize
from postal.store.table import TRANSACTION_LIMIT
from tests.conftest import Aws
from tests.integration.conftest import TeePublisher
from tests.integration.letters_support import stored_letter

POST, OTHER = 250, 30


def _disconnected_org(stores: Stores, *, post: int, other: int) -> tuple[str, Job]:
    now = now_iso()
    org_id = seed_org(stores, post=post, other=other, now=now)
    job = Job(job_id="job-1", org_id=org_id, kind="disconnect_cascade", status=JobStatus.RUNNING, started_at=now)
    stores.integrations.disconnect(org_id, job, at=now)
    return org_id, job


def _count_transactions(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of every TransactWriteItems the records client sends."""
    sizes: list[int] = []
    real = stores.orgs.client.transact_write_items

    def counting(**kwargs: Any) -> Any:
        sizes.append(len(kwargs["TransactItems"]))
        return real(**kwargs)

    monkeypatch.setattr(stores.orgs.client, "transact_write_items", counting)
    return sizes


def test_clearing_customers_in_batches_counts_exactly_the_ones_that_changed(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = bootstrap.stores()
    org_id, job = _disconnected_org(stores, post=POST, other=OTHER)
    post_ids = [f"c{i:07d}" for i in range(POST)]
    # Stale and foreign ids in between: email customers, customers that do not exist, and a repeated id.
    ids = [post_ids[0], *post_ids[:100], *(f"e{i:07d}" for i in range(OTHER)), "nobody", *post_ids[100:]]
    sizes = _count_transactions(stores, monkeypatch)

    assert stores.customers.clear_customers_post(org_id, ids, now_iso(), job.job_id) == POST

    assert all(size <= TRANSACTION_LIMIT for size in sizes)
    assert len(sizes) <= 2 * -(-len(ids) // (TRANSACTION_LIMIT - 1))  # a failed round at most once per chunk
    assert stores.jobs.get_job(org_id, job.job_id, consistent=True).counts == {"customers": POST}
    assert stores.customers.count_post_customers(org_id) == 0
    assert all(stores.customers.get_customer(org_id, cid).preference is None for cid in post_ids[::17])
    assert all(stores.customers.get_customer(org_id, f"e{i:07d}").preference == Channel.EMAIL for i in range(OTHER))

    # Run again (a duplicated page): nothing changes, nothing is counted.
    assert stores.customers.clear_customers_post(org_id, ids, now_iso(), job.job_id) == 0
    job_after = stores.jobs.get_job(org_id, job.job_id, consistent=True)
    assert (job_after.done, job_after.counts) == (POST, {"customers": POST})


def _put_letter(stores: Stores, org_id: str, letter_id: str, status: str, **extra: str) -> None:
    stored_letter(org_id, letter_id, status, **extra)


def _history(stores: Stores, org_id: str, letter_id: str) -> list[dict[str, Any]]:
    resp = boto3.client("dynamodb").query(
        TableName=stores.orgs.table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
        ExpressionAttributeValues=serialize({":pk": keys.org_pk(org_id), ":sk": keys.letter_sk(letter_id) + "#EVENT#"}),
    )
    return [deserialize(i) for i in resp["Items"]]


def test_cancelling_letters_in_batches_leaves_claimed_and_submitted_ones_alone(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = bootstrap.stores()
    org_id, job = _disconnected_org(stores, post=0, other=1)
    free = [f"q{i:03d}" for i in range(120)]  # more than one transaction's worth (49 letters each)
    for lid in free:
        _put_letter(stores, org_id, lid, "queued")
    _put_letter(stores, org_id, "held", "queued", claim_message="m-1")  # a dispatch owns it
    _put_letter(stores, org_id, "gone", "submitted")  # the provider has it
    sizes = _count_transactions(stores, monkeypatch)

    at = now_iso()
    ids = ["held", *free, "gone", free[0]]
    letters = {lid: stores.letters.get(org_id, lid) for lid in ids}
    event = LetterEvent(status="cancelled", occurred_at=at, source="postal-comms", reason="integration_disconnected")
    change = cancel_on_disconnect(event, at, "integration_disconnected", unclaimed=True)
    published: list[dict[str, Any]] = []
    cancelled = change_many(
        stores.letters,
        TeePublisher(bootstrap.events(), published),
        [(letter, change) for letter in letters.values() if letter is not None] + [(letters[free[0]], change)],
        job_id=job.job_id,
        counter="letters",
    )

    assert cancelled == len(free)
    assert all(size <= TRANSACTION_LIMIT for size in sizes)
    assert stores.jobs.get_job(org_id, job.job_id, consistent=True).counts == {"letters": len(free)}
    assert stores.letters.count_letters(org_id, "queued") == 1  # "held"
    assert stores.letters.count_letters(org_id, "cancelled") == len(free)
    history = _history(stores, org_id, free[60])
    assert [(h["status"], h["reason"], h["item_type"]) for h in history] == [
        ("cancelled", "integration_disconnected", "letter_event")
    ]
    # Each cancelled letter's event went out once, and only theirs.
    assert sorted(d["letter_id"] for d in published) == sorted(free)
    assert {(d["status"], d["previous_status"]) for d in published} == {("cancelled", "queued")}
    assert _history(stores, org_id, "held") == [] == _history(stores, org_id, "gone")


def _job(stores: Stores, org_id: str, job_id: str) -> Job:
    return stores.jobs.get_job(org_id, job_id, consistent=True)


def test_a_post_customer_the_gsi_showed_late_is_cleared_by_the_settle_pass(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = bootstrap.stores()
    org_id = seed_org(stores, post=3, other=1, now=now_iso())
    # GSI1 lags on "c0000002": the pages before the settle pass do not see it.
    real = CustomerRepository.postal_customers
    settle_pass = {"on": False}

    def lagging(self: CustomerRepository, org_id: str, limit: int) -> list[tuple[str, bool]]:
        return [(cid, post) for cid, post in real(self, org_id, limit) if settle_pass["on"] or cid != "c0000002"]

    monkeypatch.setattr(CustomerRepository, "postal_customers", lagging)
    job = integration.disconnect(stores, bootstrap.cascade_queue(), org_id, now_iso())

    assert aws.drain("CascadeQueue", "disconnect_cascade", stop_after=2) == 2  # two customers, then none seen
    running = _job(stores, org_id, job.job_id)
    assert (running.status, running.phase, running.counts["customers"]) == (JobStatus.RUNNING, "customers", 2)

    settle_pass["on"] = True
    assert aws.drain("CascadeQueue", "disconnect_cascade") == 2  # the settle page finds c0000002, then finishes
    done = _job(stores, org_id, job.job_id)
    assert (done.status, done.counts["customers"], done.done) == (JobStatus.COMPLETED, 3, done.total)
    assert stores.customers.get_customer(org_id, "c0000002").preference is None


def test_the_settle_pass_is_delayed_by_cascade_settle_seconds(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASCADE_SETTLE_SECONDS", "30")
    bootstrap.reset()
    stores = bootstrap.stores()
    org_id = seed_org(stores, post=2, other=1, now=now_iso())
    job = integration.disconnect(stores, bootstrap.cascade_queue(), org_id, now_iso())

    assert aws.drain("CascadeQueue", "disconnect_cascade") == 2  # the customers, then the page that finds none
    waiting = _job(stores, org_id, job.job_id)
    assert (waiting.status, waiting.done, waiting.phase) == (JobStatus.RUNNING, waiting.total, "customers")
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.resources.queue_url("CascadeQueue"), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"

"""The disconnect cascade for two thousand post customers, through the real handler and queue under moto.

Not timed (bench/bench_cascade.py measures throughput and memory at 100,000): it checks that the cascade pages
(about N/page_size pages of at most page_size customers, never one giant page), changes and counts every post
customer exactly once, and leaves every other customer alone.

moto deep-copies the whole table before every transaction, which makes each cascade transaction O(table);
`local.moto_patches.item_level_rollback()` backs up only the items a transaction names instead (same outcome on
failure), and the first test pins that outcome down.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from bench.bench_cascade import STEPS_WITH_POST, TEMPLATES_WITH_POST, seed_org
from local.moto_patches import forget_moto_instances, item_level_rollback
from postal import bootstrap, integration
from postal.clock import now_iso
from postal.models import Channel, Job, JobStatus
from postal.store import keys
from postal.store.customers import CustomerRepository
from postal.store.dynamo import serialize
from tests.conftest import Aws

POST, OTHER, PAGE = 2000, 200, 200

pytestmark = pytest.mark.slow


@pytest.fixture
def fast_transactions(aws: Aws) -> Iterator[None]:
    with item_level_rollback():
        yield
    forget_moto_instances()


def test_item_level_rollback_undoes_a_cancelled_transaction_like_moto(aws: Aws, fast_transactions: None) -> None:
    stores = bootstrap.stores()
    now = now_iso()
    org_id = seed_org(stores, post=2, other=1, now=now)
    job = Job(job_id="job-1", org_id=org_id, kind="disconnect_cascade", status=JobStatus.RUNNING, started_at=now)
    stores.integrations.disconnect(org_id, job, at=now)

    # A change whose condition fails counts nothing: the job tick after it is rolled back.
    assert stores.customers.clear_customers_post(org_id, ["e0000000"], now, job.job_id) == 0
    assert stores.jobs.get_job(org_id, job.job_id, consistent=True).done == 0

    # An update that succeeded is rolled back when a later item of the same transaction fails.
    update = stores.jobs._job_tick(org_id, job.job_id, "customers")
    update["Update"]["Key"] = serialize({"PK": keys.org_pk(org_id), "SK": keys.customer_sk("c0000000")})
    update["Update"]["UpdateExpression"] = "REMOVE preference, GSI1PK, GSI1SK"
    del update["Update"]["ExpressionAttributeNames"], update["Update"]["ExpressionAttributeValues"]
    with pytest.raises(ClientError) as raised:
        boto3.client("dynamodb").transact_write_items(
            TransactItems=[update, stores.jobs._integration_condition(org_id)]  # disconnected: the check fails
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert stores.customers.get_customer(org_id, "c0000000").preference == Channel.POST
    assert stores.customers.count_post_customers(org_id) == 2

    # And a transaction that succeeds keeps both of its changes.
    assert stores.customers.clear_customers_post(org_id, ["c0000001"], now, job.job_id) == 1
    assert stores.customers.get_customer(org_id, "c0000001").preference is None
    assert stores.jobs.get_job(org_id, job.job_id, consistent=True).counts == {"customers": 1}


def test_cascade_pages_through_thousands_of_post_customers(
    aws: Aws, fast_transactions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASCADE_PAGE_SIZE", str(PAGE))
    bootstrap.reset()
    stores = bootstrap.stores()
    seeded_at = now_iso()
    org_id = seed_org(stores, post=POST, other=OTHER, now=seeded_at)
    assert stores.customers.count_post_customers(org_id) == POST

    page_reads: list[int] = []
    real = CustomerRepository.postal_customers

    def recording(self: CustomerRepository, org_id: str, limit: int) -> list[tuple[str, bool]]:
        customers = real(self, org_id, limit)
        page_reads.append(len(customers))
        return customers

    monkeypatch.setattr(CustomerRepository, "postal_customers", recording)
    job = integration.disconnect(stores, bootstrap.cascade_queue(), org_id, now_iso())
    pages = aws.drain("CascadeQueue", "disconnect_cascade")  # one message in flight at a time: rounds == pages

    full_pages = math.ceil(POST / PAGE)
    assert pages == full_pages + 2  # a page finds no one left; the settle page looks again and finishes the job
    assert page_reads == [PAGE] * full_pages + [0, 0]

    done = stores.jobs.get_job(org_id, job.job_id, consistent=True)
    assert done.status == JobStatus.COMPLETED
    assert done.total == POST + TEMPLATES_WITH_POST + STEPS_WITH_POST
    assert done.done == done.total
    assert done.counts == {"templates": TEMPLATES_WITH_POST, "steps": STEPS_WITH_POST, "customers": POST, "letters": 0}
    assert stores.customers.count_post_customers(org_id) == 0
    for i in range(0, POST, 37):
        assert stores.customers.get_customer(org_id, f"c{i:07d}").preference is None
    for i in range(OTHER):
        other = stores.customers.get_customer(org_id, f"e{i:07d}")
        assert (other.preference, other.updated_at) == (Channel.EMAIL, seeded_at)
    assert all(t.default_channel != Channel.POST for t in stores.templates.list_templates(org_id))
    assert "post" not in [s.action for s in stores.collection.get_steps(org_id)[0]]

"""Tasks (PRODUCT.md §1, §4): filterable by status, kind, customer and date; one task by id; completed tasks stay
findable."""

from __future__ import annotations

from typing import Any

import pytest

from postal import bootstrap
from postal.models import Task, TaskKind
from tests.apigw import Reply
from tests.conftest import Api, Org


def tasks(api: Api, org: Org, **query: str) -> Reply:
    return api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key, query=query)


def ids(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [t["task_id"] for t in reply.json["items"]]


@pytest.fixture
def org(api: Api) -> Org:
    org = api.new_org()
    stores = bootstrap.stores()
    for task_id, kind, customer, created in [
        ("t1", TaskKind.MANUAL_INTERVENTION, "c1", "2026-11-01T08:00:00.000Z"),
        ("t2", TaskKind.LETTER_TASK, "c2", "2026-11-02T08:00:00.000Z"),
        ("t3", TaskKind.FIX_ADDRESS, "c1", "2026-11-03T08:00:00.000Z"),
    ]:
        stores.tasks.open_task(
            Task(task_id=task_id, org_id=org.org_id, kind=kind, customer_id=customer, created_at=created)
        )
    return org


def test_completed_tasks_stay_findable_by_status(api: Api, org: Org) -> None:
    done = api("settings_api", "POST", f"/v1/orgs/{org.org_id}/tasks/t2/complete", key=org.key)
    assert (done.status, done.json["status"]) == (200, "done")
    assert ids(tasks(api, org)) == ["t1", "t3"]
    assert ids(tasks(api, org, status="done")) == ["t2"]


def test_tasks_filter_by_kind_customer_and_date(api: Api, org: Org) -> None:
    assert ids(tasks(api, org, kind="letter_task")) == ["t2"]
    assert ids(tasks(api, org, customer_id="c1")) == ["t1", "t3"]
    assert ids(tasks(api, org, created_from="2026-11-02")) == ["t2", "t3"]
    assert ids(tasks(api, org, created_to="2026-11-02")) == ["t1"]
    assert ids(tasks(api, org, created_from="2026-11-02", created_to="2026-11-03")) == ["t2"]
    assert ids(tasks(api, org, customer_id="c1", kind="fix_address", created_from="2026-11-01")) == ["t3"]


def test_task_pages_follow_the_cursor(api: Api, org: Org) -> None:
    seen: list[str] = []
    query: dict[str, Any] = {"limit": "1"}
    for _ in range(5):
        page = tasks(api, org, **query)
        seen += ids(page)
        if not page.json["next_cursor"]:
            break
        query["cursor"] = page.json["next_cursor"]
    assert seen == ["t1", "t2", "t3"]


def test_one_task_by_id_and_404_for_another_orgs(api: Api, org: Org) -> None:
    reply = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks/t3", key=org.key)
    assert (reply.status, reply.json["kind"], reply.json["customer_id"]) == (200, "fix_address", "c1")
    other = api.new_org()
    assert api("settings_api", "GET", f"/v1/orgs/{other.org_id}/tasks/t3", key=other.key).status == 404
    assert api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks/nope", key=org.key).status == 404


def test_bad_task_filters_are_422(api: Api, org: Org) -> None:
    for query in ({"status": "closed"}, {"kind": "call"}, {"created_from": "yesterday"}):
        assert tasks(api, org, **query).status == 422, query
    reply = tasks(api, org, created_from="2026-11-03", created_to="2026-11-01")
    assert (reply.status, reply.json["error"]["code"]) == (422, "invalid_date_range")


def test_a_task_is_opened_once_and_a_completion_is_never_undone(api: Api, org: Org) -> None:
    stores = bootstrap.stores()
    again = Task(task_id="t2", org_id=org.org_id, kind=TaskKind.LETTER_TASK, created_at="2026-11-05T08:00:00.000Z")
    assert stores.tasks.open_task(again) is False  # t2 exists: nothing is overwritten
    done = api("settings_api", "POST", f"/v1/orgs/{org.org_id}/tasks/t2/complete", key=org.key)
    assert done.status == 200
    assert stores.tasks.open_task(again) is False  # a repeated webhook or run cannot reopen it
    twice = api("settings_api", "POST", f"/v1/orgs/{org.org_id}/tasks/t2/complete", key=org.key)
    assert (twice.status, twice.json["completed_at"]) == (200, done.json["completed_at"])
    assert ids(tasks(api, org, status="done")) == ["t2"]
    assert ids(tasks(api, org)) == ["t1", "t3"]

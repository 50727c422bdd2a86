"""Nightly collection (PRODUCT.md §2.6) through the real scheduled handler under moto."""

from __future__ import annotations

from typing import Any

import pytest

from postal import deps
from tests.apigw import FakeLambdaContext, handler
from tests.conftest import Api, Org

ADDRESS = {
    "name": "Jana Müller",
    "lines": ["Unter den Linden 1"],
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}


def nightly(job: str = "nightly-collection", day: str = "2026-11-08", org: Org | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"job": job, "date": day}
    if org:
        event["org_id"] = org.org_id
    return dict(handler("collection")(event, FakeLambdaContext()))


def put(api: Api, org: Org, path: str, body: dict[str, Any]) -> Any:
    reply = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}{path}", key=org.key, body=body)
    assert reply.status == 200, reply.body
    return reply.json


@pytest.fixture
def org(api: Api) -> Org:
    org = api.new_org()
    assert api.connect(org).status == 200
    put(api, org, "/templates/invoice", {"kind": "invoice", "default_channel": "email", "language": "de"})
    put(api, org, "/templates/reminder", {"kind": "reminder", "default_channel": "email", "language": "de"})
    put(
        api,
        org,
        "/collection-steps",
        {
            "steps": [
                {"day_offset": 0, "template_id": "invoice", "action": "email"},
                {"day_offset": 7, "template_id": "reminder", "action": "post"},
                {"day_offset": 14, "template_id": "reminder", "action": "manual_intervention"},
            ]
        },
    )
    put(api, org, "/customers/c1", {"name": "Jana Müller", "billing_address": ADDRESS})
    put(
        api,
        org,
        "/invoices/inv-1",
        {
            "customer_id": "c1",
            "number": "2026-001",
            "issue_date": "2026-10-01",
            "due_date": "2026-11-01",
            "currency": "EUR",
            "open_amount": "120.00",
            "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}],
        },
    )
    return org


def result_for(summary: dict[str, Any], org: Org) -> dict[str, Any]:
    return next(o for o in summary["orgs"] if o["org_id"] == org.org_id)


def test_each_due_step_runs_once_in_order(api: Api, org: Org) -> None:
    first = result_for(nightly(org=org), org)
    assert (first["due"], first["ran"]) == (1, 1)
    again = result_for(nightly(org=org), org)  # duplicate firing the same night: step 1 is due, step 0 never reruns
    assert again["ran"] == 1
    invoice = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/invoices/inv-1", key=org.key).json
    assert invoice["next_step_index"] == 2
    run0 = deps.records().get_step_run(org.org_id, "inv-1", 0)
    run1 = deps.records().get_step_run(org.org_id, "inv-1", 1)
    assert run0 is not None and run0["status"] == "done" and run0["outcome"]["channels"] == ["email"]
    assert run1 is not None and run1["status"] == "done" and run1["outcome"]["channels"] == ["post"]
    letter_id = run1["outcome"]["letter_id"]
    letter = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters/{letter_id}", key=org.key)
    assert letter.status == 200, letter.body
    assert letter.json["status"] == "queued"


def test_duplicate_firings_claim_each_step_exactly_once(org: Org) -> None:
    runs = [result_for(nightly(day="2026-11-01", org=org), org) for _ in range(3)]
    assert [r["ran"] for r in runs] == [1, 0, 0]


def test_paid_invoices_are_skipped(api: Api, org: Org) -> None:
    put(
        api,
        org,
        "/invoices/inv-1",
        {
            "customer_id": "c1",
            "number": "2026-001",
            "issue_date": "2026-10-01",
            "due_date": "2026-11-01",
            "open_amount": "0",
            "status": "paid",
        },
    )
    assert result_for(nightly(org=org), org)["due"] == 0


def test_manual_intervention_creates_a_task(api: Api, org: Org) -> None:
    for _ in range(3):
        nightly(day="2026-11-20", org=org)
    tasks = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]
    assert [(t["kind"], t["invoice_id"]) for t in tasks] == [("manual_intervention", "inv-1")]


def test_post_customer_without_address_gets_a_fix_address_task_not_an_email(api: Api, org: Org) -> None:
    put(api, org, "/customers/c1", {"name": "Jana Müller", "preference": "post"})
    nightly(org=org)
    tasks = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]
    assert [t["kind"] for t in tasks] == ["fix_address"]
    run = deps.records().get_step_run(org.org_id, "inv-1", 0)
    assert run is not None and run["outcome"]["blocked"] == "missing_billing_address"


def test_the_nightly_job_shows_progress(api: Api, org: Org) -> None:
    nightly(org=org)
    job = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/nightly-2026-11-08", key=org.key).json
    assert (job["status"], job["done"], job["total"]) == ("completed", 1, 1)


def test_a_failed_step_stays_pending_and_reconciliation_finishes_it(api: Api, org: Org, monkeypatch) -> None:
    import collection.handler as module

    from postal.errors import DomainError

    nightly(org=org)  # step 0 (email)

    def broken(*args: Any) -> str:
        raise DomainError("render failed", code="render_failed")

    original = module.send_letter
    monkeypatch.setattr(module, "send_letter", broken)
    assert result_for(nightly(org=org), org)["failed"] == 1
    run = deps.records().get_step_run(org.org_id, "inv-1", 1)
    assert run is not None and run["status"] == "claimed" and run["last_error"].startswith("render_failed")
    assert result_for(nightly(org=org), org)["ran"] == 0  # the step is claimed: it never runs twice
    monkeypatch.setattr(module, "send_letter", original)
    fixed = result_for(nightly("nightly-reconciliation", org=org), org)
    assert (fixed["due"], fixed["ran"]) == (1, 1)
    run = deps.records().get_step_run(org.org_id, "inv-1", 1)
    assert run is not None and run["status"] == "done"

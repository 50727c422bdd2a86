"""Nightly collection (PRODUCT.md §2.6) through the real scheduled handler under moto."""

from __future__ import annotations

from typing import Any

import pytest

from postal import bootstrap
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
    assert (invoice["steps_run"], invoice["next_step_id"]) == (["invoice", "reminder"], "reminder-2")
    run0 = bootstrap.stores().collection.get_step_run(org.org_id, "inv-1", "invoice")
    run1 = bootstrap.stores().collection.get_step_run(org.org_id, "inv-1", "reminder")
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
    run = bootstrap.stores().collection.get_step_run(org.org_id, "inv-1", "invoice")
    assert run is not None and run["outcome"]["blocked"] == "missing_address_fields"


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
    run = bootstrap.stores().collection.get_step_run(org.org_id, "inv-1", "reminder")
    assert run is not None and run["status"] == "claimed" and run["last_error"].startswith("render_failed")
    assert result_for(nightly(org=org), org)["ran"] == 0  # the step is claimed: it never runs twice
    monkeypatch.setattr(module, "send_letter", original)
    fixed = result_for(nightly("nightly-reconciliation", org=org), org)
    assert (fixed["due"], fixed["ran"]) == (1, 1)
    run = bootstrap.stores().collection.get_step_run(org.org_id, "inv-1", "reminder")
    assert run is not None and run["status"] == "done"


def _invoice(customer_id: str, number: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "number": number,
        "issue_date": "2026-10-01",
        "due_date": "2026-11-01",
        "currency": "EUR",
        "open_amount": "120.00",
        "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}],
    }


def test_a_nightly_run_is_priced_before_it_sends_and_sends_what_was_priced(api: Api, org: Org, sandbox) -> None:
    fr = {**ADDRESS, "name": "Jean Dupont", "lines": ["12 rue de Rivoli"], "postal_code": "75001", "city": "Paris"}
    put(api, org, "/customers/c2", {"name": "Jean Dupont", "billing_address": {**fr, "country": "FR"}})
    put(api, org, "/customers/c3", {"name": "Jana Müller", "billing_address": ADDRESS})
    put(api, org, "/customers/c4", {"name": "No Address", "email": "no@example.com"})
    for customer, number in [("c2", "inv-2"), ("c3", "inv-3"), ("c4", "inv-4")]:
        put(api, org, f"/invoices/{number}", _invoice(customer, number))
    nightly(org=org)  # step 0 (email) for all four; step 1 (post) is due on the 8th too
    put(api, org, "/customers/c4", {"name": "No Address", "email": "no@example.com", "preference": "post"})

    path = f"/v1/orgs/{org.org_id}/prices/nightly"
    reply = api("letters_api", "GET", path, key=org.key, query={"date": "2026-11-08"})
    assert reply.status == 200, reply.body
    quote = reply.json
    assert (quote["run_date"], quote["due"], quote["letters"]) == ("2026-11-08", 4, 3)
    assert [(g["country"], g["pages"], g["letters"]) for g in quote["groups"]] == [("DE", 1, 2), ("FR", 1, 1)]
    assert [(n["invoice_id"], n["code"]) for n in quote["not_quoted"]] == [("inv-4", "missing_address_fields")]
    for group in quote["groups"]:  # each group is the provider's own quote at the group's volume
        single = api(
            "letters_api",
            "GET",
            f"/v1/orgs/{org.org_id}/prices",
            key=org.key,
            query={"country": group["country"], "pages": str(group["pages"]), "volume": str(group["letters"])},
        ).json
        assert (group["amount"], group["total"], group["currency"]) == (
            single["amount"],
            single["total"],
            single["currency"],
        )
    assert float(quote["totals"]["EUR"]) == sum(float(g["total"]) for g in quote["groups"])

    # Quoting sent nothing and claimed nothing; the run then sends exactly the quoted letters.
    assert api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json["letters"] == []
    assert result_for(nightly(org=org), org)["ran"] == 4
    letters = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json["letters"]
    quoted = {(i["customer_id"], i["pages"]) for i in quote["items"]}
    assert {(letter["customer_id"], letter["page_count"]) for letter in letters} == quoted


def test_a_run_quote_needs_the_integration_and_a_valid_date(api: Api, org: Org) -> None:
    path = f"/v1/orgs/{org.org_id}/prices/nightly"
    bad = api("letters_api", "GET", path, key=org.key, query={"date": "2026-13-40"})
    assert bad.status == 422, bad.body
    api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
    reply = api("letters_api", "GET", path, key=org.key, query={"date": "2026-11-08"})
    assert (reply.status, reply.json["error"]["code"]) == (409, "integration_not_connected")

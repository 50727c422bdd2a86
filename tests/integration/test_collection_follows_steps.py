"""Collection follows the steps as they are when the run happens (PRODUCT.md §2.6, issue 11 point 1), a step that
ran never runs again whatever the edit, and the nightly job tells the truth over every firing of its date."""

from __future__ import annotations

from typing import Any

import pytest

from postal import bootstrap
from tests.conftest import Api, Org
from tests.integration.test_collection import ADDRESS, nightly, put, result_for

DUE = "2026-11-01"


def steps(*items: tuple[int, str, str] | tuple[int, str, str, str]) -> dict[str, Any]:
    out = []
    for item in items:
        step: dict[str, Any] = {"day_offset": item[0], "template_id": item[1], "action": item[2]}
        if len(item) == 4:
            step["step_id"] = item[3]
        out.append(step)
    return {"steps": out}


def invoice(api: Api, org: Org, invoice_id: str = "inv-1", **extra: Any) -> dict[str, Any]:
    body = {
        "customer_id": "c1",
        "number": invoice_id,
        "issue_date": "2026-10-01",
        "due_date": DUE,
        "open_amount": "120.00",
        **extra,
    }
    return put(api, org, f"/invoices/{invoice_id}", body)


def get_invoice(api: Api, org: Org, invoice_id: str = "inv-1") -> dict[str, Any]:
    reply = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/invoices/{invoice_id}", key=org.key)
    assert reply.status == 200, reply.body
    return reply.json


def ran(org: Org, day: str) -> int:
    return int(result_for(nightly(day=day, org=org), org)["ran"])


def job(api: Api, org: Org, job_id: str) -> dict[str, Any]:
    reply = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/{job_id}", key=org.key)
    assert reply.status == 200, reply.body
    return reply.json


@pytest.fixture
def org(api: Api) -> Org:
    """Connected, email templates, one customer, no steps and no invoice yet."""
    org = api.new_org()
    assert api.connect(org).status == 200
    for kind in ("invoice", "reminder", "final_notice"):
        put(api, org, f"/templates/{kind}", {"kind": kind, "default_channel": "email"})
    put(api, org, "/customers/c1", {"name": "Jana Müller", "billing_address": ADDRESS, "email": "j@example.com"})
    return org


def test_an_invoice_put_before_any_step_exists_is_collected_once_steps_exist(api: Api, org: Org) -> None:
    assert invoice(api, org)["next_due"] is None
    assert ran(org, "2026-11-20") == 0
    put(api, org, "/collection-steps", steps((10, "reminder", "email")))
    assert (get_invoice(api, org)["next_step_id"], get_invoice(api, org)["next_due"]) == ("reminder", "2026-11-11")
    assert ran(org, "2026-11-10") == 0
    assert ran(org, "2026-11-11") == 1
    assert get_invoice(api, org)["steps_run"] == ["reminder"]


def test_moving_a_step_later_moves_its_due_date(api: Api, org: Org) -> None:
    put(api, org, "/collection-steps", steps((10, "reminder", "email")))
    assert invoice(api, org)["next_due"] == "2026-11-11"
    put(api, org, "/collection-steps", steps((90, "reminder", "email")))
    assert get_invoice(api, org)["next_due"] == "2027-01-30"
    assert ran(org, "2026-11-11") == 0  # the day the old sequence said
    assert ran(org, "2027-01-30") == 1


def test_moving_a_step_earlier_makes_it_due_earlier(api: Api, org: Org) -> None:
    put(api, org, "/collection-steps", steps((90, "reminder", "email")))
    invoice(api, org)
    put(api, org, "/collection-steps", steps((10, "reminder", "email")))
    assert ran(org, "2026-11-11") == 1


def test_changing_an_offset_of_a_step_that_ran_never_runs_it_again(api: Api, org: Org) -> None:
    put(api, org, "/collection-steps", steps((10, "reminder", "email"), (20, "final_notice", "email")))
    invoice(api, org)
    assert ran(org, "2026-11-11") == 1  # the reminder
    put(api, org, "/collection-steps", steps((30, "reminder", "email"), (40, "final_notice", "email")))
    assert ran(org, "2026-12-01") == 0  # the reminder's new day: it ran already
    assert get_invoice(api, org)["next_step_id"] == "final_notice"
    assert ran(org, "2026-12-11") == 1
    assert get_invoice(api, org)["steps_run"] == ["reminder", "final_notice"]


def test_inserting_a_step_after_the_last_run_one_runs_it(api: Api, org: Org) -> None:
    put(api, org, "/collection-steps", steps((10, "reminder", "email"), (30, "final_notice", "email")))
    invoice(api, org)
    assert ran(org, "2026-11-11") == 1
    put(
        api,
        org,
        "/collection-steps",
        steps((10, "reminder", "email"), (20, "reminder", "email", "second-reminder"), (30, "final_notice", "email")),
    )
    assert get_invoice(api, org)["next_step_id"] == "second-reminder"
    assert ran(org, "2026-11-21") == 1
    assert ran(org, "2026-12-01") == 1
    assert get_invoice(api, org)["steps_run"] == ["reminder", "second-reminder", "final_notice"]


def test_inserting_a_step_before_one_that_ran_is_not_gone_back_to(api: Api, org: Org) -> None:
    put(api, org, "/collection-steps", steps((10, "reminder", "email"), (30, "final_notice", "email")))
    invoice(api, org)
    assert ran(org, "2026-11-11") == 1
    put(
        api,
        org,
        "/collection-steps",
        steps((5, "invoice", "email"), (10, "reminder", "email"), (30, "final_notice", "email")),
    )
    assert get_invoice(api, org)["next_step_id"] == "final_notice"
    assert ran(org, "2026-11-20") == 0
    runs = bootstrap.stores().collection.get_step_run(org.org_id, "inv-1", "invoice")
    assert runs is None


def test_deleting_the_next_step_goes_on_with_the_one_after(api: Api, org: Org) -> None:
    put(
        api,
        org,
        "/collection-steps",
        steps((0, "invoice", "email"), (10, "reminder", "email"), (30, "final_notice", "email")),
    )
    invoice(api, org)
    assert ran(org, "2026-11-01") == 1
    put(api, org, "/collection-steps", steps((0, "invoice", "email"), (30, "final_notice", "email")))
    assert ran(org, "2026-11-11") == 0
    assert ran(org, "2026-12-01") == 1
    assert get_invoice(api, org)["steps_run"] == ["invoice", "final_notice"]


def test_deleting_every_step_stops_collection_and_a_new_sequence_starts_it(api: Api, org: Org) -> None:
    put(api, org, "/collection-steps", steps((10, "reminder", "email")))
    invoice(api, org)
    put(api, org, "/collection-steps", steps())
    assert get_invoice(api, org)["next_due"] is None
    assert ran(org, "2026-11-11") == 0
    put(api, org, "/collection-steps", steps((12, "final_notice", "email")))
    assert ran(org, "2026-11-13") == 1


def test_moving_a_step_that_ran_behind_the_others_runs_no_step_twice(api: Api, org: Org) -> None:
    put(
        api,
        org,
        "/collection-steps",
        steps((10, "reminder", "email"), (20, "final_notice", "email"), (30, "invoice", "email")),
    )
    invoice(api, org)
    assert ran(org, "2026-11-11") == 1  # reminder
    assert ran(org, "2026-11-21") == 1  # final notice
    # The reminder moves after the final notice: it ran, so the invoice is past both, and only `invoice` is left.
    put(
        api,
        org,
        "/collection-steps",
        steps((20, "final_notice", "email"), (25, "reminder", "email"), (30, "invoice", "email")),
    )
    assert ran(org, "2026-11-26") == 0
    assert ran(org, "2026-12-01") == 1
    assert get_invoice(api, org)["steps_run"] == ["reminder", "final_notice", "invoice"]


def test_step_ids_are_derived_from_templates_and_must_be_unique(api: Api, org: Org) -> None:
    view = put(api, org, "/collection-steps", steps((10, "reminder", "email"), (20, "reminder", "email")))
    assert [s["step_id"] for s in view["steps"]] == ["reminder", "reminder-2"]
    reply = api(
        "settings_api",
        "PUT",
        f"/v1/orgs/{org.org_id}/collection-steps",
        key=org.key,
        body=steps((10, "reminder", "email", "x"), (20, "final_notice", "email", "x")),
    )
    assert (reply.status, reply.json["error"]["code"]) == (409, "duplicate_step_id")


def test_the_nightly_job_totals_cover_every_firing_of_its_date(api: Api, org: Org) -> None:
    put(api, org, "/collection-steps", steps((0, "invoice", "email"), (0, "reminder", "email")))
    nightly(day="2026-11-01", org=org)
    first = job(api, org, "nightly-2026-11-01")
    assert (first["status"], first["done"], first["total"], first["firings"]) == ("completed", 0, 0, 1)
    invoice(api, org)  # put after the first firing: a later firing of the same date runs its two steps
    nightly(day="2026-11-01", org=org)
    nightly(day="2026-11-01", org=org)
    last = job(api, org, "nightly-2026-11-01")
    assert (last["status"], last["done"], last["total"], last["firings"]) == ("completed", 2, 2, 3)
    assert last["counts"] == {"ran": 2, "skipped": 0, "failed": 0}
    assert last["started_at"] == first["started_at"]
    assert last["started_at"] <= first["finished_at"] <= last["finished_at"] == last["updated_at"]


# ------------------------------------------------------------------------------------ failure isolation (issue 10)
def _stored_invoice(org: Org, invoice_id: str, **raw: Any) -> None:
    """An invoice written straight to the store with `raw` values no model accepts today, as data from before
    today's bounds would be (rendering it, or reading it, raises)."""
    from postal import catalog
    from postal.models import InvoiceRecord
    from postal.store.dynamo import serialize

    stores = bootstrap.stores()
    steps, _ = stores.collection.get_steps(org.org_id)
    record = InvoiceRecord(
        customer_id="c1",
        number=invoice_id,
        issue_date="2026-10-01",
        due_date=DUE,
        invoice_id=invoice_id,
        updated_at="2026-10-01T00:00:00Z",
        open_amount="120.00",
    )
    item = stores.invoices._invoice_item(org.org_id, catalog.with_next_step(record, catalog.with_step_ids(steps)))
    stores.orgs.client.put_item(TableName=stores.orgs.table, Item=serialize({**item, **raw}))


@pytest.fixture
def post_org(api: Api, org: Org) -> Org:
    put(api, org, "/templates/reminder", {"kind": "reminder", "default_channel": "post"})
    put(api, org, "/collection-steps", steps((10, "reminder", "post")))
    return org


@pytest.fixture
def render_breaks_for_bad_invoices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering raises for any invoice numbered `inv-bad...`, as it did for amounts the models did not bound."""
    from decimal import InvalidOperation

    from postal.documents import rendering

    real = rendering.render_document

    def render(request: Any) -> Any:
        if any(i.number.startswith("inv-bad") for i in request.invoices):
            raise InvalidOperation
        return real(request)

    monkeypatch.setattr(rendering, "render_document", render)


def test_an_invoice_that_breaks_rendering_is_recorded_and_the_others_are_sent(
    api: Api, post_org: Org, render_breaks_for_bad_invoices: None
) -> None:
    org = post_org
    invoice(api, org, "inv-bad")
    invoice(api, org, "inv-good")
    outcome = result_for(nightly(day="2026-11-11", org=org), org)
    assert (outcome["due"], outcome["ran"], outcome["failed"], outcome["error"]) == (2, 1, 1, None)
    night = job(api, org, "nightly-2026-11-11")
    assert night["status"] == "completed"
    assert [(f["invoice_id"], f["step_id"]) for f in night["failures"]] == [("inv-bad", "reminder")]
    assert night["failures"][0]["reason"] == "unexpected_error: InvalidOperation"
    letters = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json["letters"]
    assert len(letters) == 1


def test_an_invoice_stored_before_the_bounds_fails_alone_and_the_others_are_sent(api: Api, post_org: Org) -> None:
    org = post_org
    _stored_invoice(org, "inv-old", open_amount="1E+1000")  # no model accepts it any more: reading it raises
    invoice(api, org, "inv-good")
    put(api, org, "/collection-steps", steps((10, "reminder", "post")))  # an edit: the run re-indexes first
    outcome = result_for(nightly(day="2026-11-11", org=org), org)
    assert (outcome["due"], outcome["ran"], outcome["failed"], outcome["error"]) == (2, 1, 1, None)
    night = job(api, org, "nightly-2026-11-11")
    assert night["status"] == "completed"
    assert [(f["invoice_id"], f["reason"]) for f in night["failures"]] == [
        ("inv-old", "unexpected_error: ValidationError")
    ]
    letters = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json["letters"]
    assert len(letters) == 1


def test_reconciliation_gives_up_on_what_keeps_failing_and_hands_it_to_a_person(
    api: Api, post_org: Org, render_breaks_for_bad_invoices: None
) -> None:
    from postal.collection import MAX_ATTEMPTS

    org = post_org
    invoice(api, org, "inv-bad")
    nightly(day="2026-11-11", org=org)  # attempt 1
    for attempt in range(2, MAX_ATTEMPTS + 1):
        outcome = result_for(nightly("nightly-reconciliation", day=f"2026-11-{10 + attempt}", org=org), org)
        assert (outcome["due"], outcome["failed"]) == (1, 1)
    assert outcome["gave_up"] == ["inv-bad#reminder"]
    report = job(api, org, f"reconciliation-2026-11-{10 + MAX_ATTEMPTS}")
    assert [(f["invoice_id"], f["task_id"]) for f in report["failures"]] == [
        ("inv-bad", "task_inv-bad_reminder_failed")
    ]
    tasks = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]
    assert [(t["kind"], t["invoice_id"]) for t in tasks] == [("step_failed", "inv-bad")]
    later = result_for(nightly("nightly-reconciliation", day="2026-11-30", org=org), org)
    assert (later["due"], later["failed"]) == (0, 0)  # no longer retried
    run = bootstrap.stores().collection.get_step_run(org.org_id, "inv-bad", "reminder")
    assert run is not None and (run["status"], run["attempts"]) == ("gave_up", MAX_ATTEMPTS)


def test_one_orgs_broken_data_never_stops_another_orgs_run(api: Api, post_org: Org) -> None:
    from postal.store import keys
    from postal.store.dynamo import serialize

    broken = api.new_org()
    stores = bootstrap.stores()
    # A steps item no model accepts (written before today's validation): reading it raises for this org only.
    stores.orgs.client.put_item(
        TableName=stores.orgs.table,
        Item=serialize({"PK": keys.org_pk(broken.org_id), "SK": keys.STEPS_SK, "steps": [{"day_offset": "soon"}]}),
    )
    invoice(api, post_org, "inv-good")
    summary = nightly(day="2026-11-11")
    bad, good = result_for(summary, broken), result_for(summary, post_org)
    assert bad["error"] is not None and bad["error"].startswith("unexpected_error: ")
    assert (good["ran"], good["error"]) == (1, None)
    assert job(api, broken, "nightly-2026-11-11")["status"] == "failed"
    assert job(api, post_org, "nightly-2026-11-11")["status"] == "completed"

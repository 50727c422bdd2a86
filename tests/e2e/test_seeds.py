"""Every sentence of the seeds (`../shared/seeds/000`-`004`) as a test over HTTP on the local stack.

Seeds 001 (Dutch) and 002 (French) are translations of 000: each test of 000 names the sentence in English and holds
for all three. Two slips of the French text are not behaviour ("préférences client configurées pour l'e-mail"
means the mail preferences of 000; "facturé par courriel envoyé" is a letter sent). Sentences about a vendor's own
screens (menus, cards, buttons) are tested through the API call behind them.
"""

from __future__ import annotations

import base64
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from postal.documents.window_text import window_text
from postal.documents.zones import zone_for
from tests.e2e.conftest import Reply, Stack, http
from tests.unit.documents import pdf_corpus

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ADDRESS = {
    "name": "Jana Müller",
    "lines": ["Unter den Linden 1"],
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}
FR_ADDRESS = {
    "name": "Jean Dupont",
    "lines": ["12 rue de Rivoli"],
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}
# What `pdf_corpus.good_letter` prints in its window.
PDF_ADDRESS = {
    "name": "Erika Müller",
    "company": "Muster AG",
    "lines": ["Bahnhofstrasse 12"],
    "postal_code": "8001",
    "city": "Zürich",
    "country": "CH",
}
FEE = {"amount": "2.50", "currency": "EUR"}
MAX_WAIT_S = 30


class Client:
    def __init__(self, stack: Stack, org_id: str, key: str):
        self.stack = stack
        self.org_id = org_id
        self.base = f"{stack.base_url}/v1/orgs/{org_id}"
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        return http(method, self.base + path, body, {**self.headers, **headers})

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **headers: str) -> Any:
        reply = self(method, path, body, **headers)
        assert reply.status == status, (method, path, reply.status, reply.body[:600])
        return reply.json


def new_org(stack: Stack, **fields: Any) -> Client:
    created = http(
        "POST",
        f"{stack.base_url}/v1/orgs",
        {"name": "Seeds GmbH", **fields},
        {"Authorization": f"Bearer {stack.admin_key}"},
    )
    assert created.status == 201, created.body
    return Client(stack, created.json["org"]["org_id"], created.json["api_key"])


@pytest.fixture
def org(stack: Stack) -> Client:
    return new_org(stack, paper_invoice_fee=FEE)


def connect(org: Client, confirm: bool = True) -> Reply:
    return org("POST", "/integrations/postal/connect", {"provider": "sandbox", "credentials": {}, "confirm": confirm})


def channel(org: Client, customer: str, template: str) -> tuple[str, str]:
    got = org.ok("GET", f"/customers/{customer}/channel?template_id={template}")
    return got["channel"], got["reason"]


def customer(org: Client, customer_id: str = "c1", **fields: Any) -> dict[str, Any]:
    body = {"name": ADDRESS["name"], "billing_address": ADDRESS, "email": "jana@example.com", **fields}
    return dict(org.ok("PUT", f"/customers/{customer_id}", body))


def templates(org: Client, **defaults: str) -> None:
    for kind in ("invoice", "reminder", "final_notice", "payment_plan_reminder", "letter"):
        org.ok("PUT", f"/templates/{kind}", {"kind": kind, "default_channel": defaults.get(kind, "email")})


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def invoice(org: Client, invoice_id: str = "inv-1", customer_id: str = "c1", due: str | None = None) -> None:
    body = {
        "customer_id": customer_id,
        "number": invoice_id.upper(),
        "issue_date": "2026-01-01",
        "due_date": due or today(),
        "open_amount": "121.00",
        "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "21"}],
    }
    org.ok("PUT", f"/invoices/{invoice_id}", body)


def fire(stack: Stack, schedule: str = "nightly-collection") -> dict[str, Any]:
    reply = http("POST", f"{stack.base_url}/local/schedules/{schedule}")
    assert reply.status == 200, reply.body
    return dict(reply.json["result"])


_RAN_BEFORE: dict[tuple[str, str], int] = {}


def org_run(result: dict[str, Any], org: Client) -> dict[str, Any]:
    """What one firing did for `org`. The schedule fans out (one message per org, run by NightlyPagesFunction's
    poller): wait for the org's job of that date, and report the steps this firing ran (the job counts every
    firing of its date)."""
    if isinstance(result["orgs"], list):  # a run done in its invocation
        return next(o for o in result["orgs"] if o["org_id"] == org.org_id)
    job = wait_job(org, f"nightly-{result['run_date']}")
    key = (org.org_id, str(result["run_date"]))
    ran = int(job["counts"].get("ran", 0))
    before, _RAN_BEFORE[key] = _RAN_BEFORE.get(key, 0), ran
    return {**job, "ran": ran - before}


def wait_job(org: Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + MAX_WAIT_S
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = org.ok("GET", f"/jobs/{job_id}")
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job still running after {MAX_WAIT_S} s: {job}")


def wait_letter(org: Client, letter_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + MAX_WAIT_S
    letter: dict[str, Any] = {}
    while time.monotonic() < deadline:
        letter = org.ok("GET", f"/letters/{letter_id}")
        if letter["status"] in statuses:
            return letter
        time.sleep(0.2)
    raise AssertionError(f"letter stayed {letter.get('status')}: {letter.get('events')}")


def disconnect(org: Client) -> dict[str, Any]:
    job = org.ok("POST", "/integrations/postal/disconnect", status=202)
    return wait_job(org, job["job_id"])


def send_letter(org: Client, key: str, **body: Any) -> Reply:
    payload = {"recipient": {"address": PDF_ADDRESS}, "postage": "priority", "send": True, **body}
    payload.setdefault("pdf_base64", base64.b64encode(pdf_corpus.good_letter_cached()).decode())
    return org("POST", "/letters", payload, **{"Idempotency-Key": key})


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


# ------------------------------------------------------------------------ seed 000 (001 Dutch, 002 French)
def test_invoices_and_payment_reminders_can_be_sent_by_post_to_the_customers_billing_address(org: Client) -> None:
    assert connect(org).status == 200
    templates(org)
    customer(org, preference="post")
    invoice(org)
    document = {"template_id": "reminder", "customer_id": "c1", "invoice_ids": ["inv-1"]}
    sent = org.ok("POST", "/letters", {"document": document, "send": True}, status=202, **{"Idempotency-Key": "r1"})
    assert sent["recipient"] == {**ADDRESS, "company": None, "region": None}
    letter = wait_letter(org, sent["letter_id"], {"sent", "delivered"})
    assert letter["provider"] == "sandbox"


def test_the_connect_button_is_disabled_with_custom_pdf_templates_or_custom_address_positions(org: Client) -> None:
    custom_box = {"x_mm": 22, "y_mm": 38, "width_mm": 85, "height_mm": 25}
    org.ok(
        "PUT",
        "/templates/reminder",
        {"kind": "reminder", "address_position": "custom", "custom_address_box": custom_box},
    )
    org.ok("PUT", "/templates/letter", {"kind": "letter", "layout": "custom"})
    blocked = connect(org)
    assert (blocked.status, blocked.json["error"]["code"]) == (409, "templates_block_connect")
    banner = {b["template_id"]: b for b in blocked.json["error"]["details"]["banner"]}
    assert banner.keys() == {"reminder", "letter"}
    # "Follow the instructions": the banner says what to adjust; once done, connect works.
    assert "38 mm" in banner["reminder"]["message"] and banner["reminder"]["fix"]
    org.ok("PUT", "/templates/reminder", {"kind": "reminder"})
    org.ok("PUT", "/templates/letter", {"kind": "letter"})
    assert connect(org).status == 200


def test_click_connect_then_connect_again_to_activate_the_integration(org: Client) -> None:
    preview = connect(org, confirm=False)
    assert preview.status == 200 and preview.json["compatible"] is True and preview.json["changes"]
    assert org.ok("GET", "/integrations/postal")["status"] == "disconnected"
    assert connect(org).status == 200
    assert org.ok("GET", "/integrations/postal")["status"] == "connected"


def test_a_customer_preference_overrides_the_template_default(org: Client) -> None:
    assert connect(org).status == 200
    templates(org, reminder="email")
    customer(org, preference="post")
    assert channel(org, "c1", "reminder") == ("post", "customer_preference")


def test_with_preference_post_all_pdf_templates_go_by_post_to_the_billing_address(org: Client) -> None:
    assert connect(org).status == 200
    templates(org, reminder="sms", final_notice="email")
    customer(org, preference="post")
    for kind in ("invoice", "reminder", "final_notice", "payment_plan_reminder", "letter"):
        assert channel(org, "c1", kind) == ("post", "customer_preference"), kind


def test_without_a_customer_preference_the_template_default_applies(org: Client) -> None:
    assert connect(org).status == 200
    templates(org, reminder="post", invoice="email")
    customer(org)
    assert channel(org, "c1", "reminder") == ("post", "template_default")
    assert channel(org, "c1", "invoice") == ("email", "template_default")


def test_changes_take_effect_immediately_for_the_next_communication(org: Client) -> None:
    assert connect(org).status == 200
    templates(org)
    customer(org, preference="post")
    assert channel(org, "c1", "reminder")[0] == "post"
    customer(org, preference="sms")
    assert channel(org, "c1", "reminder") == ("sms", "customer_preference")


def test_disabling_reverts_templates_to_email_resets_customer_preferences_and_steps_become_manual_intervention(
    org: Client,
) -> None:
    assert connect(org).status == 200
    templates(org, reminder="post")
    customer(org, preference="post")
    steps = [{"day_offset": 7, "template_id": "reminder", "action": "post"}]
    org.ok("PUT", "/collection-steps", {"steps": steps})
    job = disconnect(org)
    assert (job["status"], job["counts"]) == ("completed", {"templates": 1, "steps": 1, "customers": 1, "letters": 0})
    assert org.ok("GET", "/templates/reminder")["default_channel"] == "email"
    assert org.ok("GET", "/customers/c1")["preference"] is None
    assert channel(org, "c1", "reminder") == ("email", "template_default")
    assert [s["action"] for s in org.ok("GET", "/collection-steps")["steps"]] == ["manual_intervention"]


def test_no_new_mail_can_be_sent_after_disabling(org: Client) -> None:
    assert connect(org).status == 200
    disconnect(org)
    refused = send_letter(org, "after")
    assert (refused.status, refused.json["error"]["code"]) == (409, "integration_not_connected")
    refused = org("PUT", "/templates/reminder", {"kind": "reminder", "default_channel": "post"})
    assert refused.status == 409


def test_previously_sent_postal_communications_remain_accessible(org: Client) -> None:
    assert connect(org).status == 200
    sent = send_letter(org, "history")
    assert sent.status == 202, sent.body
    wait_letter(org, sent.json["letter_id"], {"sent", "delivered"})
    disconnect(org)
    letter = org.ok("GET", f"/letters/{sent.json['letter_id']}")
    assert letter["status"] in ("sent", "delivered") and letter["events"]
    assert download(letter["pdf_url"]).startswith(b"%PDF")


def test_re_enabling_is_possible_but_the_preferences_must_be_reconfigured(org: Client) -> None:
    assert connect(org).status == 200
    templates(org, reminder="post")
    customer(org, preference="post", paper_invoice=True)
    disconnect(org)
    assert connect(org).status == 200
    got = org.ok("GET", "/customers/c1")
    assert (got["preference"], got["paper_invoice"]) == (None, False)
    assert org.ok("GET", "/templates/reminder")["default_channel"] == "email"
    customer(org, preference="post")  # reconfigured by hand
    assert channel(org, "c1", "reminder") == ("post", "customer_preference")


def test_before_disabling_check_which_customers_templates_and_steps_use_post(org: Client) -> None:
    assert connect(org).status == 200
    templates(org, reminder="post")
    customer(org, "c1", preference="post")
    customer(org, "c2", paper_invoice=True)
    customer(org, "c3")
    org.ok("PUT", "/collection-steps", {"steps": [{"day_offset": 7, "template_id": "reminder", "action": "post"}]})
    impact = org.ok("GET", "/integrations/postal/disconnect-impact")
    assert impact == {
        "customers_with_post": 1,
        "customers_with_paper_invoice": 1,
        "customers_to_reset": 2,
        "templates_with_post": ["reminder"],
        "steps_with_post": [0],
        "letters_in_flight": 0,
    }


def test_the_integration_is_enabled_per_organisation_and_for_several_organisations(stack: Stack) -> None:
    first, second, third = new_org(stack), new_org(stack), new_org(stack)
    assert connect(first).status == 200
    assert connect(second).status == 200
    statuses = [o.ok("GET", "/integrations/postal")["status"] for o in (first, second, third)]
    assert statuses == ["connected", "connected", "disconnected"]
    assert third("PUT", "/customers/c1", {"name": "X", "billing_address": ADDRESS, "preference": "post"}).status == 409


def test_the_price_varies_by_destination_format_and_volume_and_is_shown_before_connecting(org: Client) -> None:
    def price(**query: str) -> dict[str, Any]:
        q = "&".join(f"{k}={v}" for k, v in {"provider": "pingen", "country": "DE", **query}.items())
        return dict(org.ok("GET", f"/prices?{q}"))

    base = price()
    assert base["estimate"] is True and base["provider"] == "pingen"
    assert price(country="US")["amount"] != base["amount"]
    assert price(pages="5")["amount"] > base["amount"]
    assert price(color="true")["amount"] >= base["amount"]
    assert price(volume="1000")["amount"] < base["amount"]
    assert connect(org).status == 200
    exact = org.ok("GET", "/prices?country=DE")
    assert (exact["provider"], exact["estimate"]) == ("sandbox", False)


def test_payment_plan_reminders_have_their_own_template_default(org: Client) -> None:
    assert connect(org).status == 200
    templates(org, reminder="email", payment_plan_reminder="post")
    customer(org)
    assert channel(org, "c1", "payment_plan_reminder") == ("post", "template_default")
    assert channel(org, "c1", "reminder") == ("email", "template_default")
    customer(org, preference="email")  # "applies if the customer has no deviating preference"
    assert channel(org, "c1", "payment_plan_reminder") == ("email", "customer_preference")


def test_the_customer_details_show_whether_a_customer_receives_mail(org: Client) -> None:
    assert connect(org).status == 200
    customer(org, preference="post")
    assert org.ok("GET", "/customers/c1")["preference"] == "post"


def test_a_post_customer_with_an_incomplete_address_is_reported_not_silently_emailed(org: Client) -> None:
    assert connect(org).status == 200
    templates(org)
    org.ok("PUT", "/customers/c1", {"name": "No Address", "email": "n@example.com", "preference": "post"})
    resolved = org.ok("GET", "/customers/c1/channel?template_id=reminder")
    assert (resolved["channel"], resolved["deliverable"], resolved["problem"]) == (
        "post",
        False,
        "missing_address_fields",
    )


# ------------------------------------------------------------------------ seed 003 (COS: paper invoices, letters)
def test_the_default_invoice_method_remains_email(org: Client) -> None:
    assert connect(org).status == 200
    templates(org)
    customer(org)
    assert channel(org, "c1", "invoice") == ("email", "template_default")


def test_paper_and_email_invoicing_can_run_simultaneously_or_paper_exclusively(stack: Stack, org: Client) -> None:
    assert connect(org).status == 200
    templates(org)
    customer(org, "both", paper_invoice=True, paper_invoice_mode="with_email")
    customer(org, "paper", paper_invoice=True, paper_invoice_mode="instead_of_email")
    org.ok("PUT", "/collection-steps", {"steps": [{"day_offset": 0, "template_id": "invoice", "action": "email"}]})
    invoice(org, "inv-both", "both")
    invoice(org, "inv-paper", "paper")
    assert org_run(fire(stack), org)["ran"] == 2
    for customer_id in ("both", "paper"):
        letters = org.ok("GET", f"/letters?customer_id={customer_id}")["letters"]
        assert len(letters) == 1  # the paper invoice (the email goes out through the AR platform, as an event)
        assert letters[0]["paper_invoice_fee"] == FEE


def test_billing_addresses_are_printed_on_invoices_for_window_envelopes(org: Client) -> None:
    templates(org)
    customer(org)
    invoice(org)
    document = org.ok(
        "POST", "/documents", {"template_id": "invoice", "customer_id": "c1", "invoice_ids": ["inv-1"]}, 201
    )
    shown = window_text(download(document["url"]), zone_for("sandbox", "left")).split("\n")
    # The org gives no sender address, so the letter is treated as mail from abroad: Deutsche Post wants the city
    # and the country line in capitals then (documents/address_format.py).
    assert shown[:4] == ["Jana Müller", "Unter den Linden 1", "10117 BERLIN", "GERMANY"]


def test_the_integration_setting_decides_whether_the_paper_invoice_option_exists(org: Client) -> None:
    refused = org("PUT", "/customers/c1", {"name": "Jana", "billing_address": ADDRESS, "paper_invoice": True})
    assert (refused.status, refused.json["error"]["code"]) == (409, "integration_not_connected")
    assert connect(org).status == 200
    assert customer(org, paper_invoice=True)["paper_invoice"] is True


def test_the_paper_invoice_fee_is_applied_when_paper_is_selected_and_removed_when_deselected(org: Client) -> None:
    assert connect(org).status == 200
    templates(org)
    invoice_doc = {"template_id": "invoice", "customer_id": "c1", "invoice_ids": ["inv-1"]}
    customer(org, paper_invoice=True)
    invoice(org)
    assert org.ok("POST", "/documents", invoice_doc, 201)["paper_invoice_fee"] == FEE
    customer(org, paper_invoice=False)
    assert org.ok("POST", "/documents", invoice_doc, 201)["paper_invoice_fee"] is None


def test_after_disconnecting_no_invoice_carries_the_paper_fee(org: Client) -> None:
    assert connect(org).status == 200
    templates(org)
    customer(org, paper_invoice=True)
    invoice(org)
    disconnect(org)
    doc = org.ok("POST", "/documents", {"template_id": "invoice", "customer_id": "c1", "invoice_ids": ["inv-1"]}, 201)
    assert doc["paper_invoice_fee"] is None


def test_letters_are_not_sent_automatically_but_only_when_explicitly_triggered(org: Client) -> None:
    assert connect(org).status == 200
    refused = send_letter(org, "implicit", send=False)
    assert (refused.status, refused.json["error"]["code"]) == (422, "send_not_confirmed")
    assert org.ok("GET", "/letters")["letters"] == []


def test_a_general_api_connects_other_postal_providers(org: Client) -> None:
    credentials = {"endpoint_url": "https://print.example.com/postal", "secret": "s" * 32}
    preview = org("POST", "/integrations/postal/connect", {"provider": "generic", "credentials": credentials})
    assert preview.status == 200, preview.body
    assert preview.json["provider"] == "generic" and preview.json["compatible"] is True


# ------------------------------------------------------------------------ seed 004 (CashCollect / MySendingBox)
def test_upload_the_content_of_the_letter_only_pdf_allowed(org: Client) -> None:
    assert connect(org).status == 200
    refused = send_letter(org, "txt", pdf_base64=base64.b64encode(b"just some text, not a PDF").decode())
    assert refused.status in (415, 422) and refused.json["error"]["code"] == "not_a_pdf"


def test_select_the_recipient_a_customer_or_an_address_given_in_the_request(org: Client) -> None:
    assert connect(org).status == 200
    customer(org, "erika", **{"name": "Erika Müller", "billing_address": PDF_ADDRESS})
    to_customer = send_letter(org, "customer", recipient={"customer_id": "erika"})
    assert to_customer.status == 202, to_customer.body
    assert to_customer.json["customer_id"] == "erika"
    to_address = send_letter(org, "address", recipient={"address": PDF_ADDRESS})
    assert to_address.status == 202, to_address.body
    assert to_address.json["recipient"]["name"] == "Erika Müller"


def test_the_pdf_must_be_addressed_to_the_chosen_recipient_or_get_a_cover_page(org: Client) -> None:
    assert connect(org).status == 200
    refused = send_letter(org, "wrong", recipient={"address": ADDRESS})
    assert (refused.status, refused.json["error"]["code"]) == (422, "recipient_mismatch")
    covered = send_letter(org, "covered", recipient={"address": ADDRESS}, address_cover_page=True)
    assert covered.status == 202, covered.body
    assert covered.json["page_count"] == 2


def test_select_the_postage_priority_ecopli_for_france_only_or_registered_with_acknowledgement(org: Client) -> None:
    assert connect(org).status == 200
    economy_ch = send_letter(org, "eco-ch", postage="economy")
    assert (economy_ch.status, economy_ch.json["error"]["code"]) == (422, "unsupported_country")
    economy_fr = send_letter(
        org, "eco-fr", postage="economy", recipient={"address": FR_ADDRESS}, address_cover_page=True
    )
    assert economy_fr.status == 202, economy_fr.body
    for postage in ("priority", "registered", "registered_with_receipt"):
        reply = send_letter(org, postage, postage=postage)
        assert (reply.status, reply.json.get("postage")) == (202, postage), reply.body


def test_check_in_the_history_that_the_sending_is_scheduled_then_follow_it(org: Client) -> None:
    assert connect(org).status == 200
    sent = send_letter(org, "follow", postage="registered_with_receipt")
    assert sent.status == 202, sent.body
    assert [e["status"] for e in sent.json["events"]][:3] == ["created", "rendered", "queued"]
    letter = wait_letter(org, sent.json["letter_id"], {"sent", "delivered"})
    statuses = [e["status"] for e in letter["events"]]
    assert len(statuses) == len(set(statuses))  # one entry per status
    assert {"submitted", "sent"} <= set(statuses)
    assert all(e["occurred_at"] for e in letter["events"])


def test_a_letter_step_in_an_automation_creates_a_task_for_a_person_and_sends_nothing(
    stack: Stack, org: Client
) -> None:
    assert connect(org).status == 200
    templates(org)
    customer(org)
    org.ok("PUT", "/collection-steps", {"steps": [{"day_offset": 0, "template_id": "letter", "action": "letter_task"}]})
    invoice(org)
    assert org_run(fire(stack), org)["ran"] == 1
    tasks = org.ok("GET", "/tasks?kind=letter_task")["items"]
    assert [(t["invoice_id"], t["customer_id"]) for t in tasks] == [("inv-1", "c1")]
    assert org.ok("GET", "/letters")["letters"] == []
    done = org.ok("POST", f"/tasks/{tasks[0]['task_id']}/complete")
    assert done["status"] == "done"
    assert [t["task_id"] for t in org.ok("GET", "/tasks?status=done")["items"]] == [done["task_id"]]


# ------------------------------------------------------------------------ PRODUCT §2.6: the nightly run
def test_every_open_invoice_whose_next_step_is_due_runs_that_step_with_the_steps_as_they_are_now(
    stack: Stack, org: Client
) -> None:
    assert connect(org).status == 200
    templates(org)
    customer(org)
    invoice(org)  # put before any step exists
    assert org.ok("GET", "/invoices/inv-1")["next_due"] is None
    org.ok("PUT", "/collection-steps", {"steps": [{"day_offset": 30, "template_id": "reminder", "action": "email"}]})
    in_30_days = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    assert org.ok("GET", "/invoices/inv-1")["next_due"] == in_30_days
    org.ok("PUT", "/collection-steps", {"steps": [{"day_offset": 0, "template_id": "reminder", "action": "email"}]})
    assert org.ok("GET", "/invoices/inv-1")["next_due"] == today()
    first = org_run(fire(stack), org)
    again = org_run(fire(stack), org)  # a duplicate firing: the step never runs twice
    assert (first["ran"], again["ran"]) == (1, 0)
    job = org.ok("GET", f"/jobs/nightly-{today()}")
    assert (job["status"], job["firings"], job["done"], job["total"]) == ("completed", 2, 1, 1)
    assert job["started_at"] <= job["finished_at"] == job["updated_at"]

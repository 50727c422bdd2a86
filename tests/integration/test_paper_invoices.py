"""Paper invoices are postal preferences (PRODUCT.md §2.3, §2.4; seeds 000 and 003): the integration decides
whether the option exists, the disconnect resets them and they are not restored on re-connect; the org's fee is on
the paper invoice and in the letter record, and on no invoice rendered after the disconnect."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, Aws, Org
from tests.integration.test_documents_api import ADDRESS, FEE, new_org, pdf_text, put, render
from tests.integration.test_integration_lifecycle import disconnect_and_drain

PAPER = {"name": "Jana Müller", "billing_address": ADDRESS, "email": "jana@example.com", "paper_invoice": True}
INVOICE = {
    "customer_id": "c1",
    "number": "INV-1",
    "issue_date": "2026-10-01",
    "due_date": "2026-11-01",
    "open_amount": "121.00",
    "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "21"}],
}


def customer(api: Api, org: Org, customer_id: str = "c1") -> dict[str, Any]:
    return dict(api("settings_api", "GET", f"/v1/orgs/{org.org_id}/customers/{customer_id}", key=org.key).json)


def paper_org(api: Api, aws: Aws) -> Org:
    org = new_org(api, aws, paper_invoice_fee=FEE)
    assert api.connect(org).status == 200
    put(api, org, "templates/invoice", {"kind": "invoice", "default_channel": "email"})
    put(api, org, "customers/c1", PAPER)
    put(api, org, "invoices/i1", INVOICE)
    return org


def test_paper_invoice_is_refused_while_disconnected(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    reply = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key, body=PAPER)
    assert (reply.status, reply.json["error"]["code"]) == (409, "integration_not_connected")
    assert "paper invoices" in reply.json["error"]["message"]
    email_only = {**PAPER, "paper_invoice": False}
    assert api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key, body=email_only).status == 200


def test_the_disconnect_impact_counts_paper_invoice_customers(api: Api, aws: Aws) -> None:
    org = paper_org(api, aws)
    put(api, org, "customers/c2", {**PAPER, "preference": "post"})  # both: counted once to reset
    put(api, org, "customers/c3", {"name": "Post Only", "billing_address": ADDRESS, "preference": "post"})
    impact = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect-impact", key=org.key)
    assert impact.status == 200, impact.body
    got = impact.json
    assert (got["customers_with_post"], got["customers_with_paper_invoice"], got["customers_to_reset"]) == (2, 2, 3)


def test_disconnect_resets_paper_invoices_and_reconnect_does_not_restore_them(api: Api, aws: Aws) -> None:
    org = paper_org(api, aws)
    put(api, org, "customers/c2", {**PAPER, "preference": "sms"})  # paper only: its own preference stays
    job = disconnect_and_drain(api, aws, org)
    assert (job["status"], job["counts"]["customers"]) == ("completed", 2)
    assert (customer(api, org)["paper_invoice"], customer(api, org)["preference"]) == (False, None)
    assert (customer(api, org, "c2")["paper_invoice"], customer(api, org, "c2")["preference"]) == (False, "sms")
    assert api.connect(org).status == 200
    assert customer(api, org)["paper_invoice"] is False


def test_an_invoice_rendered_after_the_disconnect_carries_no_paper_fee(api: Api, aws: Aws) -> None:
    org = paper_org(api, aws)
    before = render(api, org, template_id="invoice")
    assert before.json["paper_invoice_fee"] == FEE
    # Disconnected, the cascade not yet run: the customer still says paper, the invoice no longer carries the fee.
    reply = api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
    assert reply.status == 202, reply.body
    assert customer(api, org)["paper_invoice"] is True
    after = render(api, org, template_id="invoice")
    assert after.status == 201, after.body
    assert after.json["paper_invoice_fee"] is None
    assert "Paper invoice fee" not in pdf_text(aws, after.json["s3_key"])


def test_the_paper_fee_is_a_field_of_the_letter_record(api: Api, aws: Aws) -> None:
    org = paper_org(api, aws)
    body = {"document": {"template_id": "invoice", "customer_id": "c1", "invoice_ids": ["i1"]}, "send": True}
    reply = api(
        "letters_api",
        "POST",
        f"/v1/orgs/{org.org_id}/letters",
        key=org.key,
        body=body,
        headers={"Idempotency-Key": "k1"},
    )
    assert reply.status == 202, reply.body
    assert reply.json["paper_invoice_fee"] == FEE
    letter = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters/{reply.json['letter_id']}", key=org.key).json
    assert letter["paper_invoice_fee"] == FEE

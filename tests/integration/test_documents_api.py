"""`POST /v1/orgs/{org_id}/documents` through the real handler under moto: the PDF lands in S3 (SSE, metadata, key
layout), a presigned URL comes back, the paper invoice fee appears when it applies, and bad input is 4xx."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
from pypdf import PdfReader

from tests.conftest import Api, Aws, Org

ADDRESS = {
    "name": "Jana Müller",
    "lines": ["Unter den Linden 1"],
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}
FEE = {"amount": "2.50", "currency": "EUR"}


def new_org(api: Api, aws: Aws, **fields: Any) -> Org:
    reply = api("orgs_api", "POST", "/v1/orgs", key=aws.admin_key, body={"name": "Acme GmbH", **fields})
    assert reply.status == 201, reply.body
    return Org(org_id=reply.json["org"]["org_id"], key=reply.json["api_key"])


def put(api: Api, org: Org, path: str, body: dict[str, Any]) -> Any:
    reply = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/{path}", key=org.key, body=body)
    assert reply.status == 200, reply.body
    return reply.json


def setup_org(api: Api, org: Org, *, paper_invoice: bool = False, address: dict[str, Any] | None = ADDRESS) -> None:
    if paper_invoice:  # paper invoices are a postal preference: they need the integration
        assert api.connect(org).status == 200
    put(api, org, "templates/inv", {"kind": "invoice", "language": "en"})
    put(api, org, "templates/rem", {"kind": "reminder", "language": "de"})
    customer: dict[str, Any] = {"name": "Jana Müller", "paper_invoice": paper_invoice}
    if address is not None:
        customer["billing_address"] = address
    put(api, org, "customers/c1", customer)
    put(
        api,
        org,
        "invoices/i1",
        {
            "customer_id": "c1",
            "number": "INV-2024-001",
            "issue_date": "2024-05-01",
            "due_date": "2024-05-31",
            "open_amount": "119.00",
            "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "19"}],
        },
    )


def render(api: Api, org: Org, **body: Any) -> Any:
    return api(
        "documents_api",
        "POST",
        f"/v1/orgs/{org.org_id}/documents",
        key=org.key,
        body={"customer_id": "c1", "invoice_ids": ["i1"], **body},
    )


def pdf_text(aws: Aws, key: str) -> str:
    obj = boto3.client("s3").get_object(Bucket=bucket(aws), Key=key)
    reader = PdfReader(BytesIO(obj["Body"].read()))
    return "\n".join(page.extract_text() for page in reader.pages)


def bucket(aws: Aws) -> str:
    from postal.config import get_config

    return get_config().documents_bucket


def test_invoice_and_reminder_render_to_s3_with_sse_metadata_and_a_presigned_url(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org)
    s3 = boto3.client("s3")
    for template_id, kind in (("inv", "invoice"), ("rem", "reminder")):
        reply = render(api, org, template_id=template_id)
        assert reply.status == 201, reply.body
        doc = reply.json
        assert re.fullmatch(
            rf"orgs/{org.org_id}/documents/\d{{4}}/\d{{2}}/\d{{2}}/{doc['document_id']}\.pdf", doc["s3_key"]
        )
        head = s3.head_object(Bucket=bucket(aws), Key=doc["s3_key"])
        assert head["ServerSideEncryption"] == "AES256"
        assert head["ContentType"] == "application/pdf"
        meta = head["Metadata"]
        assert meta["template-id"] == template_id
        assert meta["kind"] == kind
        assert meta["customer-id"] == "c1"
        assert meta["invoice-ids"] == "i1"
        assert meta["page-count"] == str(doc["page_count"])
        assert doc["page_count"] >= 1
        assert meta["sha256"] == doc["sha256"]
        assert len(doc["sha256"]) == 64
        # No personal data in the metadata: it travels in headers and logs.
        assert "Müller" not in str(meta)
        assert "Linden" not in str(meta)
        body = s3.get_object(Bucket=bucket(aws), Key=doc["s3_key"])["Body"].read()
        assert body.startswith(b"%PDF-")
        url = urlparse(doc["url"])
        params = parse_qs(url.query)
        assert doc["s3_key"] in url.path
        assert params["X-Amz-Expires"] == [str(doc["expires_in"])]
        assert doc["expires_in"] <= 3600
        assert doc["kind"] == kind
        assert doc["paper_invoice_fee"] is None
    # The recipient is printed at the window (text check; geometry is the renderer's own test).
    assert "Jana Müller" in pdf_text(aws, reply.json["s3_key"])


def test_paper_invoice_fee_appears_when_the_customer_gets_paper(api: Api, aws: Aws) -> None:
    org = new_org(api, aws, paper_invoice_fee=FEE)
    setup_org(api, org, paper_invoice=True)
    reply = render(api, org, template_id="inv")
    assert reply.status == 201, reply.body
    assert reply.json["paper_invoice_fee"] == {"amount": "2.50", "currency": "EUR"}
    text = pdf_text(aws, reply.json["s3_key"])
    assert "Paper invoice fee" in text
    assert "2.50" in text
    head = boto3.client("s3").head_object(Bucket=bucket(aws), Key=reply.json["s3_key"])
    assert head["Metadata"]["paper-invoice-fee"] == "2.50 EUR"

    # Deselected: the fee is gone from the next invoice.
    put(api, org, "customers/c1", {"name": "Jana Müller", "billing_address": ADDRESS, "paper_invoice": False})
    again = render(api, org, template_id="inv")
    assert again.status == 201, again.body
    assert again.json["paper_invoice_fee"] is None
    assert "Paper invoice fee" not in pdf_text(aws, again.json["s3_key"])


def test_no_fee_without_an_org_fee(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org, paper_invoice=True)
    reply = render(api, org, template_id="inv")
    assert reply.status == 201, reply.body
    assert "Paper invoice fee" not in pdf_text(aws, reply.json["s3_key"])


def test_missing_address_fields_is_422(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org, address=None)
    reply = render(api, org, template_id="inv")
    assert reply.status == 422, reply.body
    assert reply.json["error"]["code"] == "missing_address_fields"


def test_unknown_invoice_template_or_customer_is_404(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org)
    assert render(api, org, template_id="inv", invoice_ids=["nope"]).status == 404
    assert render(api, org, template_id="nope").status == 404
    assert render(api, org, template_id="inv", customer_id="nope").status == 404


def test_invoice_of_another_customer_is_refused(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org)
    put(api, org, "customers/c2", {"name": "Other Person", "billing_address": ADDRESS})
    reply = render(api, org, template_id="inv", customer_id="c2")
    assert reply.status == 422, reply.body
    assert reply.json["error"]["code"] == "invoice_customer_mismatch"


def test_another_orgs_key_is_404_and_writes_nothing(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org)
    other = api.new_org("Other AG")
    reply = api(
        "documents_api",
        "POST",
        f"/v1/orgs/{org.org_id}/documents",
        key=other.key,
        body={"template_id": "inv", "customer_id": "c1", "invoice_ids": ["i1"]},
    )
    assert reply.status == 404, reply.body
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket(aws), Prefix=f"orgs/{org.org_id}/documents/")
    assert listed.get("KeyCount", 0) == 0


def test_bad_body_is_422_and_no_key_is_401(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    reply = api(
        "documents_api",
        "POST",
        f"/v1/orgs/{org.org_id}/documents",
        key=org.key,
        body={"template_id": "inv", "customer_id": "c1", "surprise": 1},
    )
    assert reply.status == 422
    assert api("documents_api", "POST", f"/v1/orgs/{org.org_id}/documents", body={}).status == 401


def test_reminder_needs_invoices(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org)
    reply = render(api, org, template_id="rem", invoice_ids=[])
    assert reply.status == 422, reply.body
    assert reply.json["error"]["code"] == "invoices_required"


def test_idempotency_key_returns_the_same_document_and_refuses_another_body(api: Api, aws: Aws) -> None:
    org = new_org(api, aws, paper_invoice_fee=FEE)
    setup_org(api, org, paper_invoice=True)
    path = f"/v1/orgs/{org.org_id}/documents"
    body = {"template_id": "inv", "customer_id": "c1", "invoice_ids": ["i1"]}
    headers = {"Idempotency-Key": "run-42"}
    first = api("documents_api", "POST", path, key=org.key, body=body, headers=headers)
    assert first.status == 201, first.body
    again = api("documents_api", "POST", path, key=org.key, body=body, headers=headers)
    assert again.status == 201, again.body
    same = {k: v for k, v in first.json.items() if k != "url"}
    assert {k: v for k, v in again.json.items() if k != "url"} == same
    listed = boto3.client("s3").list_object_versions(Bucket=bucket(aws), Prefix=f"orgs/{org.org_id}/documents/")
    assert len(listed.get("Versions", [])) == 1  # rendered and written once

    other = api("documents_api", "POST", path, key=org.key, body={**body, "template_id": "rem"}, headers=headers)
    assert other.status == 422, other.body
    assert other.json["error"]["code"] == "idempotency_key_reused"
    # Keys are per org: another org's identical key is unrelated.
    org2 = new_org(api, aws)
    setup_org(api, org2)
    assert (
        api(
            "documents_api", "POST", f"/v1/orgs/{org2.org_id}/documents", key=org2.key, body=body, headers=headers
        ).status
        == 201
    )


def test_address_breaking_la_postes_rules_is_refused_when_post_is_chosen_naming_the_line(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    assert api.connect(org).status == 200
    paris = {"name": "Jeanne Martin", "lines": ["Résidence des Jardins de la Méditerranée"],  # 40 characters
             "postal_code": "75019", "city": "Paris", "country": "FR"}  # fmt: skip
    reply = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key,
                body={"name": "Jeanne Martin", "billing_address": paris, "preference": "post"})  # fmt: skip
    assert reply.status == 422, reply.body
    error = reply.json["error"]
    assert error["code"] == "invalid_address"
    assert error["details"] == [{"field": "billing_address.lines[0]", "problem": "line_too_long"}]
    # An e-mail customer's address is stored as given; channel resolution reports what post would refuse.
    stored = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/customers/c1", key=org.key,
                 body={"name": "Jeanne Martin", "billing_address": paris})  # fmt: skip
    assert stored.status == 200, stored.body
    put(api, org, "templates/inv", {"kind": "invoice", "language": "fr"})
    resolved = api("channels_api", "GET", f"/v1/orgs/{org.org_id}/customers/c1/channel", key=org.key,
                   query={"template_id": "inv"}).json  # fmt: skip
    assert resolved["channel"] == "email"
    assert resolved["address_problems"] == [{"field": "lines[0]", "problem": "line_too_long"}]


def test_vat_numbers_customer_number_and_contact_from_settings_and_invoice_reach_the_pdf(api: Api, aws: Aws) -> None:
    branding = {"name": "Acme GmbH", "vat_number": "DE123456789", "contact_name": "Eva Schmidt",
                "contact_phone": "+49 30 123456", "contact_email": "ar@acme.example"}  # fmt: skip
    org = new_org(api, aws, branding=branding)
    setup_org(api, org)
    put(api, org, "invoices/i1", {
        "customer_id": "c1", "number": "INV-2024-001", "issue_date": "2024-05-01", "due_date": "2024-05-31",
        "open_amount": "119.00", "customer_number": "K-7", "buyer_vat_number": "ATU12345678",
        "supply_date": "2024-04-30",
        "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "19"}],
    })  # fmt: skip
    reply = render(api, org, template_id="inv")
    assert reply.status == 201, reply.body
    text = pdf_text(aws, reply.json["s3_key"])
    for expected in ["Our VAT number: DE123456789", "Your VAT number: ATU12345678", "Customer number: K-7",
                     "Date of supply: 30 Apr 2024", "Contact: Eva Schmidt", "ar@acme.example"]:  # fmt: skip
        assert expected in text, expected


def test_payment_plan_instalments_are_stored_and_rendered(api: Api, aws: Aws) -> None:
    org = new_org(api, aws)
    setup_org(api, org)
    put(api, org, "templates/plan", {"kind": "payment_plan_reminder", "language": "en"})
    put(api, org, "invoices/i1", {
        "customer_id": "c1", "number": "INV-2024-001", "issue_date": "2024-05-01", "due_date": "2024-05-31",
        "open_amount": "119.00",
        "instalments": [{"due_date": "2024-06-30", "amount": "59.50", "paid": True},
                        {"due_date": "2024-07-31", "amount": "59.50"}],
    })  # fmt: skip
    reply = render(api, org, template_id="plan", document_date="2024-07-01")
    assert reply.status == 201, reply.body
    text = pdf_text(aws, reply.json["s3_key"])
    assert "INV-2024-001 30 Jun 2024 €59.50 paid" in text
    assert "Instalment due: €59.50, to be paid by 31 July 2024." in text

"""The printed address is the recipient (issue 11 point 2): an uploaded PDF is mailed only when page 1's window
shows the chosen recipient, or behind a cover page that does; a rendered document only goes to its customer."""

from __future__ import annotations

import base64
from decimal import Decimal
from io import BytesIO

import boto3
import pytest
from pypdf import PdfReader

from postal.documents.window_text import window_text
from postal.documents.zones import zone_for
from postal.letters import missing_from_window
from postal.models import Address, Postage
from postal.providers.base import PriceRequest
from postal.providers.prices import price_table
from tests.conftest import Api, Aws, Org
from tests.integration.letters_support import ADDRESS, connected_org, get_letter, pdf_b64, send
from tests.unit.documents import pdf_corpus

SOMEBODY_ELSE = ["Somebody Else", "Other Street 9", "99999 Elsewhere"]
DIETER = {
    "name": "Dieter Deutsch",
    "lines": ["Hauptstraße 5"],
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}


def stored_pdf(aws: Aws, api: Api, org: Org, letter_id: str) -> bytes:
    letter = get_letter(api, org, letter_id)
    from postal.config import get_config

    bucket = get_config().documents_bucket
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=letter["pdf_key"])["Body"].read())


@pytest.fixture
def org(api: Api, aws: Aws) -> Org:
    return connected_org(api)


def test_a_pdf_addressed_to_somebody_else_is_refused_showing_both(api: Api, org: Org) -> None:
    reply = send(api, org, pdf_base64=pdf_b64(pdf_corpus.letter(address=SOMEBODY_ELSE)))
    assert reply.status == 422, reply.body
    error = reply.json["error"]
    assert error["code"] == "recipient_mismatch"
    detail = error["details"][0]
    assert detail["window_text"].split("\n") == SOMEBODY_ELSE
    assert detail["recipient"] == {
        "name": "Erika Müller",
        "lines[0]": "Bahnhofstrasse 12",
        "city": "Zürich",
        "postal_code": "8001",
    }
    assert "address_cover_page" in error["fix"]
    assert api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json["letters"] == []


def test_a_pdf_whose_window_shows_the_recipient_is_sent_unchanged(api: Api, aws: Aws, org: Org) -> None:
    pdf = pdf_corpus.letter(pages=2)
    reply = send(api, org, pdf_base64=pdf_b64(pdf))
    assert reply.status == 202, reply.body
    assert reply.json["page_count"] == 2
    assert stored_pdf(aws, api, org, reply.json["letter_id"]) == pdf


def test_the_window_is_compared_after_normalisation() -> None:
    recipient = Address.model_validate({**ADDRESS, "name": "Erika Muller", "city": "ZURICH"})
    assert missing_from_window("Muster AG\nFrau ERIKA MÜLLER\nBahnhofstrasse  12\n8001 Zürich", recipient) == []
    assert missing_from_window("Frau Erika Müller\nBahnhofstrasse 1\n8001 Zürich", recipient) == ["lines[0]"]
    assert missing_from_window("Muster AG\nBahnhofstrasse 12\n8001 Zürich", recipient) == []  # to the company


def test_a_cover_page_carries_the_recipient_and_costs_one_more_sheet(api: Api, aws: Aws, org: Org) -> None:
    upload = pdf_corpus.letter(address=SOMEBODY_ELSE, pages=2)
    reply = send(api, org, key="cover", pdf_base64=pdf_b64(upload), address_cover_page=True)
    assert reply.status == 202, reply.body
    letter = reply.json
    assert letter["page_count"] == 3
    mailed = stored_pdf(aws, api, org, letter["letter_id"])
    assert len(PdfReader(BytesIO(mailed)).pages) == 3
    shown = window_text(mailed, zone_for("sandbox", "left"))
    assert missing_from_window(shown, Address.model_validate(ADDRESS)) == []
    plain = send(api, org, key="plain", pdf_base64=pdf_b64(pdf_corpus.letter(pages=2)))
    assert plain.status == 202, plain.body
    table = price_table("sandbox")  # the sandbox prices from its table: the pages the provider prints
    for sent, pages in ((letter, 3), (plain.json, 2)):
        request = PriceRequest(country="CH", pages=pages, color=False, duplex=False, postage=Postage.PRIORITY)
        assert Decimal(sent["price"]) == table.quote(request, provider="sandbox").amount


def test_in_duplex_the_cover_page_has_a_blank_back(api: Api, aws: Aws, org: Org) -> None:
    reply = send(api, org, pdf_base64=pdf_b64(pdf_corpus.letter(pages=1)), address_cover_page=True, duplex=True)
    assert reply.status == 202, reply.body
    assert reply.json["page_count"] == 3
    back = PdfReader(BytesIO(stored_pdf(aws, api, org, reply.json["letter_id"]))).pages[1]
    assert back.extract_text() == ""


def test_address_cover_page_is_only_for_an_uploaded_pdf(api: Api, org: Org) -> None:
    body = {"document": {"template_id": "t", "customer_id": "c1"}, "address_cover_page": True, "pdf_base64": None}
    reply = send(api, org, **body)
    assert reply.status == 422, reply.body


def test_a_rendered_document_is_only_mailed_to_its_customer(api: Api, org: Org) -> None:
    api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/templates/letter", key=org.key, body={"kind": "letter"})
    body = {"name": "Dieter Deutsch", "billing_address": DIETER}
    assert api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/customers/de", key=org.key, body=body).status == 200
    document = {"template_id": "letter", "customer_id": "de", "body": "Hello"}
    reply = send(api, org, pdf_base64=None, document=document, recipient={"customer_id": "c1"})
    assert (reply.status, reply.json["error"]["code"]) == (422, "recipient_mismatch")
    ok = send(api, org, key="de", pdf_base64=None, document=document, recipient={"customer_id": "de"})
    assert ok.status == 202, ok.body
    assert ok.json["recipient"]["name"] == "Dieter Deutsch"


def test_an_upload_without_text_in_the_window_needs_the_cover_page(api: Api, org: Org) -> None:
    scanned = base64.b64encode(pdf_corpus.letter(address=[])).decode()
    reply = send(api, org, pdf_base64=scanned)
    assert reply.status == 422, reply.body
    assert reply.json["error"]["code"] in ("recipient_mismatch", "format_error")
    ok = send(api, org, key="cover", pdf_base64=scanned, address_cover_page=True)
    assert ok.status == 202, ok.body

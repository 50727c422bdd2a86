"""Letters API through the real handlers under moto: send, idempotency, refusals, get, list, prices."""

from __future__ import annotations

import boto3

from local.sandbox_server import SandboxServer
from tests.conftest import Api, Aws
from tests.integration.letters_support import (
    ADDRESS,
    FR_ADDRESS,
    connected_org,
    get_letter,
    letter_body,
    pdf_b64,
    put_customer,
    queue_depth,
    send,
)
from tests.unit.documents import pdf_corpus


def test_send_letter_to_a_customer_answers_202_queued_with_history(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    reply = send(api, org)
    assert reply.status == 202, reply.body
    letter = reply.json
    assert letter["status"] == "queued"
    assert letter["customer_id"] == "c1"
    assert letter["provider"] == "sandbox"
    assert letter["page_count"] == 1
    assert [e["status"] for e in letter["events"]] == ["created", "rendered", "queued"]
    assert letter["pdf_url"].startswith("https://")
    assert queue_depth(aws, "DispatchQueue") == 1
    # The stored PDF is the uploaded one, encrypted at rest.
    s3 = boto3.client("s3")
    head = s3.head_object(
        Bucket=aws.resources.function_environment()["DOCUMENTS_BUCKET"],
        Key=f"orgs/{org.org_id}/letters/{letter['letter_id']}.pdf",
    )
    assert head["ServerSideEncryption"] == "AES256"


def test_idempotency_key_replay_returns_the_same_letter_and_creates_one(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    first = send(api, org, key="same")
    second = send(api, org, key="same")
    assert first.status == second.status == 202
    assert first.json["letter_id"] == second.json["letter_id"]
    listed = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json
    assert len(listed["letters"]) == 1
    reused = send(api, org, key="same", color=True)
    assert reused.status == 422
    assert reused.json["error"]["code"] == "idempotency_key_reused"


def test_missing_idempotency_key_is_refused(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    reply = api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters", key=org.key, body=letter_body())
    assert reply.status == 400
    assert reply.json["error"]["code"] == "idempotency_key_required"


def test_economy_outside_france_is_422_with_a_fix(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    reply = send(api, org, postage="economy")  # the customer lives in CH
    assert reply.status == 422
    error = reply.json["error"]
    assert error["code"] == "unsupported_country"
    assert "France" in error["message"] and error["fix"]
    # The PDF's window shows the Zürich customer: a cover page carries the French address instead.
    ok = send(api, org, key="fr", postage="economy", recipient={"address": FR_ADDRESS}, address_cover_page=True)
    assert ok.status == 202, ok.body


def test_letters_need_a_connected_integration(api: Api, aws: Aws) -> None:
    org = api.new_org()
    put_customer(api, org)
    reply = send(api, org)
    assert reply.status == 409
    assert reply.json["error"]["code"] == "integration_not_connected"


def test_send_must_be_explicit(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    reply = send(api, org, send=False)
    assert reply.status == 422
    assert reply.json["error"]["code"] == "send_not_confirmed"
    assert queue_depth(aws, "DispatchQueue") == 0


def test_pdf_outside_the_window_is_format_error_with_the_problems(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    reply = send(api, org, pdf_base64=pdf_b64(pdf_corpus.address_too_high()))
    assert reply.status == 422
    error = reply.json["error"]
    assert error["code"] == "format_error"
    assert error["details"] and all("fix" in p for p in error["details"])


def test_other_org_cannot_read_a_letter(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    other = api.new_org("Other")
    letter_id = send(api, org).json["letter_id"]
    reply = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters/{letter_id}", key=other.key)
    assert reply.status == 404


def test_list_filters_by_status_and_customer_and_pages(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    ids = [send(api, org, key=f"k{i}").json["letter_id"] for i in range(3)]
    assert send(api, org, key="addr", recipient={"address": FR_ADDRESS}, address_cover_page=True).status == 202
    path = f"/v1/orgs/{org.org_id}/letters"
    by_customer = api("letters_api", "GET", path, key=org.key, query={"customer_id": "c1"}).json
    assert sorted(x["letter_id"] for x in by_customer["letters"]) == sorted(ids)
    queued = api("letters_api", "GET", path, key=org.key, query={"status": "queued"}).json
    assert len(queued["letters"]) == 4
    assert api("letters_api", "GET", path, key=org.key, query={"status": "sent"}).json["letters"] == []
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = api("letters_api", "GET", path, key=org.key, query=query).json
        seen += [x["letter_id"] for x in page["letters"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(set(seen)) == 4
    future = api("letters_api", "GET", path, key=org.key, query={"created_from": "2999-01-01"}).json
    assert future["letters"] == []


def test_prices_quote_from_the_connected_provider(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org = connected_org(api)
    path = f"/v1/orgs/{org.org_id}/prices"
    reply = api(
        "letters_api",
        "GET",
        path,
        key=org.key,
        query={"country": "CH", "pages": "3", "color": "true", "postage": "registered", "volume": "10"},
    )
    assert reply.status == 200, reply.body
    quote = reply.json
    assert quote["source"] == "provider"
    assert float(quote["total"]) == float(quote["amount"]) * 10
    economy = api("letters_api", "GET", path, key=org.key, query={"country": "DE", "postage": "economy"})
    assert economy.status == 422
    assert economy.json["error"]["code"] == "unsupported_country"


def test_get_letter_returns_events_with_timestamps(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    letter = get_letter(api, org, letter_id)
    assert all(e["occurred_at"] for e in letter["events"])
    assert letter["price"] is not None and letter["currency"]


PINGEN = {"client_id": "cid", "client_secret": "csecret", "organisation_id": "org-1"}


def test_registered_with_receipt_on_pingen_is_422_naming_the_alternatives(api: Api, aws: Aws) -> None:
    org = connected_org(api, "pingen", PINGEN)
    reply = send(api, org, postage="registered_with_receipt")
    assert reply.status == 422, reply.body
    error = reply.json["error"]
    assert error["code"] == "postage_not_supported"
    [problem] = error["details"]
    assert problem["alternatives"] == ["priority", "registered"]  # economy is for France only (PRODUCT §2.5)
    assert "pingen" not in problem["providers_offering_it"] and "mysendingbox" in problem["providers_offering_it"]
    letters = api("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key).json["letters"]
    assert letters == []  # nothing stored, nothing queued
    quote = api(
        "letters_api",
        "GET",
        f"/v1/orgs/{org.org_id}/prices",
        key=org.key,
        query={"country": "CH", "postage": "registered_with_receipt"},
    )
    assert quote.status == 422 and quote.json["error"]["code"] == "postage_not_supported"


def test_a_pdf_longer_than_the_provider_prints_is_422(api: Api, aws: Aws) -> None:
    org = connected_org(api, "pingen", PINGEN)
    put_customer(
        api,
        org,
        address={**ADDRESS, "lines": ["Damrak 1"], "postal_code": "1012 LG", "city": "Amsterdam", "country": "NL"},
    )
    reply = send(api, org, pdf_base64=pdf_b64(pdf_corpus.letter(pages=15)))
    assert reply.status == 422, reply.body
    assert reply.json["error"]["code"] == "postage_not_supported"
    assert reply.json["error"]["details"][0]["field"] == "pages"

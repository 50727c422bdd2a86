"""Large PDFs go through a presigned upload: `POST .../letters` with `"upload": true` answers 202 with a
short-lived PUT URL; when the PDF arrives, the bucket's event (through the UploadsQueue) checks it and queues the
letter, or fails it with the check's problems. Inline PDFs are limited to what a Lambda invocation carries."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3

from postal.letters import MAX_PDF_BASE64
from tests.conftest import Api, Aws
from tests.integration.letters_support import connected_org, get_letter, letter_body, queue_depth
from tests.unit.documents import pdf_corpus


def _ask_for_upload(api: Api, org, key: str = "up-1") -> dict:
    body = letter_body(pdf_base64=None, upload=True)
    reply = api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters", key=org.key, body=body,
                headers={"Idempotency-Key": key})  # fmt: skip
    assert reply.status == 202, reply.body
    return dict(reply.json)


def _put(aws: Aws, key: str, data: bytes) -> None:
    """What the client's PUT to the presigned URL does (moto in-process has no HTTP endpoint to PUT to)."""
    bucket = aws.resources.function_environment()["DOCUMENTS_BUCKET"]
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/pdf")


def test_an_uploaded_pdf_is_checked_and_its_letter_queued(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    letter = _ask_for_upload(api, org)
    assert (letter["status"], letter["awaiting_upload"], letter["pdf_url"]) == ("created", True, None)
    url = urlsplit(letter["upload_url"])
    assert url.path.endswith(f"/uploads/letters/{org.org_id}/{letter['letter_id']}.pdf")
    assert int(parse_qs(url.query)["X-Amz-Expires"][0]) == letter["upload_expires_in"] <= 900  # short-lived
    assert queue_depth(aws, "DispatchQueue") == 0  # nothing to send before the PDF is there

    _put(aws, letter["pdf_key"], pdf_corpus.good_letter_cached())
    assert aws.drain("UploadsQueue", "letter_uploads") >= 1

    queued = get_letter(api, org, letter["letter_id"])
    assert (queued["status"], queued["awaiting_upload"], queued["upload_url"]) == ("queued", False, None)
    assert queued["page_count"] >= 1 and len(queued["sha256"]) == 64
    assert queued["pdf_key"] == f"orgs/{org.org_id}/letters/{letter['letter_id']}.pdf"  # out of the expiring prefix
    assert [e["status"] for e in queued["events"]] == ["created", "queued"]
    assert queue_depth(aws, "DispatchQueue") == 1

    # The same event delivered again changes nothing.
    _put(aws, letter["pdf_key"], pdf_corpus.good_letter_cached())
    aws.drain("UploadsQueue", "letter_uploads")
    assert get_letter(api, org, letter["letter_id"])["events"] == queued["events"]


def test_an_uploaded_pdf_that_does_not_fit_fails_its_letter_with_the_problems(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    letter = _ask_for_upload(api, org)
    _put(aws, letter["pdf_key"], b"%PDF-1.4 not really a pdf")
    aws.drain("UploadsQueue", "letter_uploads")
    failed = get_letter(api, org, letter["letter_id"])
    assert (failed["status"], failed["error"]["code"]) == ("failed", "format_error")
    assert failed["error"]["fix"]
    assert queue_depth(aws, "DispatchQueue") == 0


def test_a_replayed_upload_request_returns_the_same_letter_with_a_fresh_url(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    first, again = _ask_for_upload(api, org, "up-2"), _ask_for_upload(api, org, "up-2")
    assert again["letter_id"] == first["letter_id"] and again["upload_url"]


def test_an_inline_pdf_over_the_invocation_limit_is_a_413_naming_the_upload(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    body = letter_body(pdf_base64="A" * (MAX_PDF_BASE64 + 4))
    reply = api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters", key=org.key, body=body,
                headers={"Idempotency-Key": "big"})  # fmt: skip
    assert (reply.status, reply.json["error"]["code"]) == (413, "pdf_too_large_inline")
    assert '"upload": true' in reply.json["error"]["fix"]
    # What a client may send inline fits one invocation with room for the rest of the request.
    assert MAX_PDF_BASE64 + 64 * 1024 < 6 * 1024 * 1024

"""Custom template PDFs through the real handler under moto: upload (body or presigned URL), the compatibility
check with its stored result and PNG preview, connect gating that reads it, and bad files as clean 4xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import Api, Org
from tests.unit.documents import pdf_corpus

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def bucket() -> str:
    from postal.config import get_config

    return get_config().documents_bucket


def custom_template(api: Api, org: Org, template_id: str = "tpl", **fields: Any) -> None:
    body = {"kind": "invoice", "layout": "custom", "address_position": "left", **fields}
    reply = api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/templates/{template_id}", key=org.key, body=body)
    assert reply.status == 200, reply.body


def upload(api: Api, org: Org, data: bytes, template_id: str = "tpl", key: str | None = None) -> Any:
    return api(
        "template_checks",
        "POST",
        f"/v1/orgs/{org.org_id}/templates/{template_id}/pdf",
        key=key or org.key,
        raw_body=data,
        headers={"Content-Type": "application/pdf"},
    )


def check(api: Api, org: Org, template_id: str = "tpl", body: dict[str, Any] | None = None) -> Any:
    return api(
        "template_checks",
        "POST",
        f"/v1/orgs/{org.org_id}/templates/{template_id}/check",
        key=org.key,
        body=body if body is not None else {"provider": "sandbox"},
    )


def preview(api: Api, org: Org) -> Any:
    return api(
        "integration_api",
        "POST",
        f"/v1/orgs/{org.org_id}/integrations/postal/connect",
        key=org.key,
        body={"provider": "sandbox", "credentials": {}, "confirm": False},
    )


def test_good_pdf_uploaded_checked_ok_unblocks_connect(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    blocked = api.connect(org)
    assert blocked.status == 409  # no PDF yet: the custom layout blocks

    data = pdf_corpus.good_letter()
    up = upload(api, org, data)
    assert up.status == 200, up.body
    pdf = up.json["custom_pdf"]
    assert pdf["s3_key"].startswith(f"orgs/{org.org_id}/templates/tpl/")
    assert pdf["s3_key"].endswith(f"{pdf['sha256']}.pdf")
    assert pdf["size"] == len(data)
    assert up.json["check"] is None
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=bucket(), Key=pdf["s3_key"])
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket(), Key=pdf["s3_key"])["Body"].read() == data

    still_blocked = api.connect(org)
    assert still_blocked.status == 409  # uploaded but not checked
    assert still_blocked.json["error"]["details"]["banner"][0]["code"] == "custom_template_unchecked"

    result = check(api, org)
    assert result.status == 200, result.body
    body = result.json
    assert body["ok"] is True, body["problems"]
    assert body["zone_id"] == "pingen-left"
    assert body["problems"] == []
    box = body["address_box_mm"]
    assert box["x0"] >= 22
    assert box["x1"] <= 107.5
    assert box["y0"] >= 60
    assert box["y1"] <= 85.5
    assert body["blocks_connect"] == []
    assert body["preview_url"]
    # The preview is a PNG of page 1, stored next to the check.
    template = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/templates/tpl", key=org.key).json
    stored = template["check"]
    assert stored["ok"] is True
    assert stored["pdf_sha256"] == pdf["sha256"]
    assert stored["zone_id"] == "pingen-left"
    assert stored["preview_key"] == f"previews/{org.org_id}/tpl/{pdf['sha256']}.png"
    png = s3.get_object(Bucket=bucket(), Key=stored["preview_key"])
    assert png["Body"].read().startswith(PNG_MAGIC)
    assert png["ServerSideEncryption"] == "AES256"
    assert stored["preview_key"] in body["preview_url"]

    assert preview(api, org).json["compatible"] is True
    connected = api.connect(org)
    assert connected.status == 200, connected.body
    assert connected.json["status"] == "connected"


def test_address_too_high_fails_with_a_fix_in_mm_and_connect_names_the_template(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    assert upload(api, org, pdf_corpus.address_too_high(7.0)).status == 200
    result = check(api, org)
    assert result.status == 200, result.body
    body = result.json
    assert body["ok"] is False
    assert body["problems"]
    assert any("mm" in p["fix"] for p in body["problems"]), body["problems"]
    assert body["blocks_connect"][0]["code"] == "custom_template_incompatible"

    refused = api.connect(org)
    assert refused.status == 409, refused.body
    error = refused.json["error"]
    assert error["code"] == "templates_block_connect"
    banner = error["details"]["banner"]
    assert [b["template_id"] for b in banner] == ["tpl"]
    assert banner[0]["code"] == "custom_template_incompatible"
    assert "mm" in banner[0]["fix"]


def test_reupload_of_a_different_pdf_voids_the_old_check(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    assert upload(api, org, pdf_corpus.good_letter()).status == 200
    assert check(api, org).json["ok"] is True
    assert preview(api, org).json["compatible"] is True

    again = upload(api, org, pdf_corpus.letter(pages=2))
    assert again.status == 200, again.body
    assert again.json["check"] is None
    assert preview(api, org).json["compatible"] is False
    refused = api.connect(org)
    assert refused.status == 409
    assert refused.json["error"]["details"]["banner"][0]["code"] == "custom_template_unchecked"

    assert check(api, org).json["ok"] is True
    assert api.connect(org).status == 200


def test_same_bytes_again_keep_the_check(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    data = pdf_corpus.good_letter()
    assert upload(api, org, data).status == 200
    assert check(api, org).json["ok"] is True
    again = upload(api, org, data)
    assert again.json["check"]["ok"] is True
    assert api.connect(org).status == 200


def test_a_check_for_another_window_does_not_count(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    assert upload(api, org, pdf_corpus.good_letter()).status == 200
    # No provider named and nothing connected: the generic default window (DIN 5008 B).
    generic = check(api, org, body={})
    assert generic.status == 200, generic.body
    assert generic.json["zone_id"] == "din5008-b"
    assert generic.json["blocks_connect"] is None
    assert api.connect(org).status == 409


def test_upload_url_then_register(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    ticket = api(
        "template_checks", "POST", f"/v1/orgs/{org.org_id}/templates/tpl/pdf", key=org.key, body={"upload": True}
    )
    assert ticket.status == 200, ticket.body
    t = ticket.json
    assert t["method"] == "PUT"
    assert t["s3_key"].startswith(f"uploads/{org.org_id}/tpl/")
    assert "X-Amz-Signature" in t["upload_url"]
    # What the client does with the URL, done with the SDK here (moto does not serve HTTP in-process).
    boto3.client("s3").put_object(
        Bucket=bucket(), Key=t["s3_key"], Body=pdf_corpus.good_letter(), ContentType="application/pdf"
    )
    registered = api(
        "template_checks", "POST", f"/v1/orgs/{org.org_id}/templates/tpl/pdf", key=org.key, body=t["register_body"]
    )
    assert registered.status == 200, registered.body
    assert registered.json["custom_pdf"]["s3_key"].startswith(f"orgs/{org.org_id}/templates/tpl/")
    assert check(api, org).json["ok"] is True


def test_register_refuses_keys_outside_the_templates_upload_prefix(api: Api) -> None:
    org = api.new_org()
    other = api.new_org("Other AG")
    custom_template(api, org)
    custom_template(api, other)
    foreign = f"uploads/{other.org_id}/tpl/upl_x.pdf"
    boto3.client("s3").put_object(Bucket=bucket(), Key=foreign, Body=pdf_corpus.good_letter())
    for key in (foreign, f"uploads/{org.org_id}/tpl/../../{other.org_id}/tpl/upl_x.pdf"):
        reply = api(
            "template_checks", "POST", f"/v1/orgs/{org.org_id}/templates/tpl/pdf", key=org.key, body={"s3_key": key}
        )
        assert reply.status == 422, reply.body
        assert reply.json["error"]["code"] == "invalid_upload_key"
    missing = api(
        "template_checks",
        "POST",
        f"/v1/orgs/{org.org_id}/templates/tpl/pdf",
        key=org.key,
        body={"s3_key": f"uploads/{org.org_id}/tpl/upl_nothing.pdf"},
    )
    assert missing.status == 404


BAD_PDFS: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("not_a_pdf", pdf_corpus.not_a_pdf, 415, "not_a_pdf"),
    ("encrypted", pdf_corpus.encrypted, 422, "pdf_encrypted"),
    ("truncated", pdf_corpus.truncated, 422, "pdf_unreadable"),
    ("too_big", lambda: pdf_corpus.oversized(50 * 1024 * 1024), 413, "file_too_large"),
    ("no_pages", pdf_corpus.no_pages, 422, "pdf_empty"),
    ("500_pages", lambda: pdf_corpus.many_pages(500), 422, "too_many_pages"),
    ("280k_operations", pdf_corpus.many_operations, 422, "content_too_complex"),
    ("content_stream_bomb", pdf_corpus.huge_content_stream, 422, "content_too_complex"),
]


@pytest.mark.parametrize(("name", "make", "status", "code"), BAD_PDFS, ids=[b[0] for b in BAD_PDFS])
def test_bad_pdfs_are_clean_4xx_and_change_nothing(
    api: Api, name: str, make: Callable[[], bytes], status: int, code: str
) -> None:
    org = api.new_org()
    custom_template(api, org)
    reply = upload(api, org, make())
    assert reply.status == status, reply.body
    error = reply.json["error"]
    assert error["code"] == code
    assert error["message"]
    template = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/templates/tpl", key=org.key).json
    assert "custom_pdf" not in template or template["custom_pdf"] is None


@pytest.mark.parametrize("make", [pdf_corpus.corrupt_xref, pdf_corpus.scanned], ids=["corrupt_xref", "scanned"])
def test_damaged_or_scanned_pdfs_never_500(api: Api, make: Callable[[], bytes]) -> None:
    """A broken xref may be repaired by pypdf (then checked) or refused; a scan has no readable address."""
    org = api.new_org()
    custom_template(api, org)
    reply = upload(api, org, make())
    assert reply.status in (200, 422), reply.body
    if reply.status == 200:
        result = check(api, org)
        assert result.status in (200, 422), result.body
        if make is pdf_corpus.scanned:
            assert result.json["ok"] is False


def test_wrong_content_type_is_415_and_bad_json_is_400(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    path = f"/v1/orgs/{org.org_id}/templates/tpl/pdf"
    assert (
        api("template_checks", "POST", path, key=org.key, raw_body=b"x", headers={"Content-Type": "image/png"}).status
        == 415
    )
    bad = api(
        "template_checks", "POST", path, key=org.key, raw_body=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad.status == 400
    both = api("template_checks", "POST", path, key=org.key, body={"upload": True, "s3_key": "x"})
    assert both.status == 422
    assert check(api, org, body={"provider": "nope"}).status == 422


def test_check_without_a_pdf_is_409_and_unknown_template_404(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    reply = check(api, org)
    assert reply.status == 409
    assert reply.json["error"]["code"] == "no_custom_pdf"
    assert check(api, org, template_id="missing").status == 404
    assert upload(api, org, pdf_corpus.good_letter(), template_id="missing").status == 404


def test_another_orgs_key_is_404(api: Api) -> None:
    org = api.new_org()
    other = api.new_org("Other AG")
    custom_template(api, org)
    assert upload(api, org, pdf_corpus.good_letter(), key=other.key).status == 404
    reply = api(
        "template_checks",
        "POST",
        f"/v1/orgs/{org.org_id}/templates/tpl/check",
        key=other.key,
        body={"provider": "sandbox"},
    )
    assert reply.status == 404
    template = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/templates/tpl", key=org.key).json
    assert template.get("custom_pdf") is None


def test_errors_are_json_with_the_contract_shape(api: Api) -> None:
    org = api.new_org()
    custom_template(api, org)
    reply = upload(api, org, pdf_corpus.encrypted())
    assert set(json.loads(reply.body)["error"]) >= {"code", "message", "details"}

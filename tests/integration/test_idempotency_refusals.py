"""A request the API refuses does not consume its `Idempotency-Key`: the client corrects the body and retries
with the same key, and gets the resource, not `idempotency_key_reused`."""

from __future__ import annotations

from tests.conftest import Api, Aws
from tests.integration.letters_support import connected_org, letter_body


def test_a_letter_refused_after_its_key_was_claimed_leaves_the_key_free(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    path, headers = f"/v1/orgs/{org.org_id}/letters", {"Idempotency-Key": "letter-1"}
    # The document refers to a template that does not exist: refused while rendering, after the claim.
    wrong = letter_body(pdf_base64=None, document={"template_id": "no-such-template", "customer_id": "c1"})
    reply = api("letters_api", "POST", path, key=org.key, body=wrong, headers=headers)
    assert reply.status == 404, reply.body

    reply = api("letters_api", "POST", path, key=org.key, body=letter_body(), headers=headers)
    assert reply.status == 202, reply.body
    letter_id = reply.json["letter_id"]
    # From now on the key is the letter's: a replay returns it, another body is refused.
    again = api("letters_api", "POST", path, key=org.key, body=letter_body(), headers=headers)
    assert (again.status, again.json["letter_id"]) == (202, letter_id)
    other = api("letters_api", "POST", path, key=org.key, body=letter_body(postage="registered"), headers=headers)
    assert (other.status, other.json["error"]["code"]) == (422, "idempotency_key_reused")
    listed = api("letters_api", "GET", path, key=org.key).json["letters"]
    assert [letter["letter_id"] for letter in listed] == [letter_id]


def test_a_letter_refused_by_validation_never_claims_its_key(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    path, headers = f"/v1/orgs/{org.org_id}/letters", {"Idempotency-Key": "letter-2"}
    for refused in (letter_body(send=False), letter_body(colour=True), letter_body(postage="economy")):
        reply = api("letters_api", "POST", path, key=org.key, body=refused, headers=headers)
        assert 400 <= reply.status < 500 and reply.json["error"]["code"] != "idempotency_key_reused"
    assert api("letters_api", "POST", path, key=org.key, body=letter_body(), headers=headers).status == 202


def test_a_document_refused_while_rendering_leaves_the_key_free(api: Api, aws: Aws) -> None:
    org = connected_org(api)
    path, headers = f"/v1/orgs/{org.org_id}/documents", {"Idempotency-Key": "doc-1"}
    reply = api(
        "documents_api", "POST", path, key=org.key, body={"template_id": "nope", "customer_id": "c1"}, headers=headers
    )
    assert reply.status == 404, reply.body
    template = {"kind": "letter"}
    assert api("settings_api", "PUT", f"/v1/orgs/{org.org_id}/templates/t1", key=org.key, body=template).status in (
        200,
        201,
    )
    body = {"template_id": "t1", "customer_id": "c1", "body": "Hello"}
    reply = api("documents_api", "POST", path, key=org.key, body=body, headers=headers)
    assert reply.status in (200, 201), reply.body

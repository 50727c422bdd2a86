"""The local stack as a person or a client sees it (PRODUCT.md §6)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack, http

# One worker runs them all under xdist (`make pytest`), so the session starts a single stack.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_health_needs_no_key(stack: Stack) -> None:
    reply = http("GET", f"{stack.base_url}/v1/health")
    assert reply.status == 200, reply.body


def test_docs_serve_swagger_ui(stack: Stack) -> None:
    reply = http("GET", f"{stack.base_url}/docs")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert b"swagger-ui-bundle.js" in reply.body
    asset = http("GET", f"{stack.base_url}/docs/static/swagger-ui-bundle.js")
    assert asset.status == 200
    assert len(asset.body) > 100_000


def test_openapi_document_points_at_the_local_stack(stack: Stack) -> None:
    reply = http("GET", f"{stack.base_url}/openapi.json")
    assert reply.status == 200
    doc = reply.json
    assert doc["openapi"].startswith("3.")
    assert "/v1/orgs" in doc["paths"]
    assert doc["servers"][0]["url"] == stack.base_url


def test_unknown_route_is_a_json_404(stack: Stack) -> None:
    reply = http("GET", f"{stack.base_url}/v1/nothing-here")
    assert reply.status == 404
    assert reply.json["error"]["code"] == "not_found"


def test_known_path_with_another_method_is_405(stack: Stack) -> None:
    reply = http("DELETE", f"{stack.base_url}/v1/health")
    assert reply.status == 405
    assert reply.json["error"]["code"] == "method_not_allowed"


def test_protected_route_without_a_key_is_401(stack: Stack) -> None:
    reply = http("GET", f"{stack.base_url}/v1/orgs/org_123")
    assert reply.status == 401
    assert reply.json["error"]["code"] == "unauthorized"


def test_protected_route_with_a_wrong_key_is_401(stack: Stack) -> None:
    reply = http("GET", f"{stack.base_url}/v1/orgs/org_123", headers={"Authorization": "Bearer nope"})
    assert reply.status == 401
    assert reply.json["error"]["code"] == "unauthorized"


def test_local_lists_routes_schedules_and_queues(stack: Stack) -> None:
    served = http("GET", f"{stack.base_url}/local").json
    routes = {(r["method"], r["path"]) for r in served["routes"]}
    assert ("GET", "/v1/health") in routes
    assert ("POST", "/v1/orgs/{org_id}/letters") in routes
    assert {"nightly-collection", "nightly-reconciliation", "letter-reconciliation"} <= set(served["schedules"])
    assert "DispatchQueue" in served["queues"]
    assert served["pollers"] == {
        "CascadeQueue": "DisconnectCascadeFunction",
        "CollectionQueue": "NightlyPagesFunction",
        "DispatchQueue": "DispatchFunction",
        "UploadsQueue": "LetterUploadsFunction",
    }


def test_letter_reconciliation_fires_locally(stack: Stack) -> None:
    reply = http("POST", f"{stack.base_url}/local/schedules/letter-reconciliation")
    assert reply.status == 200, reply.body
    assert reply.json["function"] == "LetterReconciliationFunction"
    assert reply.json["result"]["job"] == "letter-reconciliation"
    assert all(org["failed"] == 0 for org in reply.json["result"]["orgs"])


def test_unknown_schedule_is_404_listing_the_known_ones(stack: Stack) -> None:
    reply = http("POST", f"{stack.base_url}/local/schedules/does-not-exist")
    assert reply.status == 404
    assert "nightly-collection" in reply.json["error"]["details"]["known"]


def test_admin_creates_an_org_whose_key_reaches_it(stack: Stack) -> None:
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    created = http("POST", f"{stack.base_url}/v1/orgs", body={"name": "E2E GmbH"}, headers=admin)
    assert created.status == 201, created.body
    org_id, key = created.json["org"]["org_id"], created.json["api_key"]
    reply = http("GET", f"{stack.base_url}/v1/orgs/{org_id}", headers={"Authorization": f"Bearer {key}"})
    assert reply.status == 200, reply.body
    assert reply.json["org_id"] == org_id


def test_a_retried_org_create_is_409_and_a_rotated_key_replaces_the_first(stack: Stack) -> None:
    admin = {"Authorization": f"Bearer {stack.admin_key}", "Idempotency-Key": "e2e-create-rotate"}
    created = http("POST", f"{stack.base_url}/v1/orgs", body={"name": "Rotate GmbH"}, headers=admin)
    assert created.status == 201, created.body
    org_id = created.json["org"]["org_id"]
    retried = http("POST", f"{stack.base_url}/v1/orgs", body={"name": "Rotate GmbH"}, headers=admin)
    assert (retried.status, retried.json["error"]["details"]) == (409, {"org_id": org_id})

    # The first response was "lost": the admin rotates the key, and the new one reaches the org.
    rotated = http("POST", f"{stack.base_url}/v1/orgs/{org_id}/api-key", headers=admin)
    assert rotated.status == 200, rotated.body
    new_key = rotated.json["api_key"]
    reply = http("GET", f"{stack.base_url}/v1/orgs/{org_id}", headers={"Authorization": f"Bearer {new_key}"})
    assert reply.status == 200, reply.body

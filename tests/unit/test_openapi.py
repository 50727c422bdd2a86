"""docs/openapi.json is generated from the code: it must not drift (regenerate with `make openapi`)."""

from __future__ import annotations

import json
from pathlib import Path

from postal.api.openapi import build, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_code() -> None:
    assert DOC.read_text() == render(), "docs/openapi.json is stale: run `make openapi`"


def test_every_api_route_of_the_template_is_documented() -> None:
    from local.cfn import Template, load_template

    documented = {(path, method.upper()) for path, ops in build()["paths"].items() for method in ops}
    declared = {
        (event.path, event.method.upper()) for spec in Template(load_template()).functions() for event in spec.api
    }
    # Every route of the template is served and documented: no gaps left.
    missing = declared - documented
    assert not missing, missing
    assert json.loads(DOC.read_text())["openapi"].startswith("3.")


def test_every_operation_lists_its_statuses_with_the_error_schema_and_an_example() -> None:
    doc = build()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            statuses = {int(s) for s in responses}
            assert {400, 413, 415, 422, 429} <= statuses, (method, path)
            if path != "/v1/health" and not path.startswith("/v1/webhooks"):
                assert {401, 404} <= statuses, (method, path)
            assert any(s < 300 for s in statuses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    content = response["content"]["application/json"]
                    assert content["schema"] == {"$ref": "#/components/schemas/Error"}
                    assert set(content["example"]["error"]) == {"code", "message", "details"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # Powertools' shape is never answered


def test_creates_answer_their_real_status_and_take_an_idempotency_key() -> None:
    paths = build()["paths"]
    for path, status, required in (
        ("/v1/orgs", "201", False),
        ("/v1/orgs/{org_id}/documents", "201", False),
        ("/v1/orgs/{org_id}/letters", "202", True),
    ):
        operation = paths[path]["post"]
        assert status in operation["responses"] and "200" not in operation["responses"], path
        header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
        assert (header["in"], header["required"]) == ("header", required), path

"""A bounded schemathesis run against the local stack: generated requests for every operation of
docs/openapi.json (valid and invalid bodies, parameters and headers), sent over HTTP with a real org's key.
Zero 5xx, every error in our shape, every status one the document lists for the operation."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.e2e.conftest import Stack, http
from tests.routes import OPENAPI

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Cases per operation: 32 operations x 40 stay within a couple of minutes on the local stack.
CASES_PER_OPERATION = 40
FUZZED: dict[str, Any] = {}


@pytest.fixture(scope="module")
def api_schema(stack: Stack) -> Any:
    created = http(
        "POST", f"{stack.base_url}/v1/orgs", {"name": "Fuzz GmbH"}, {"Authorization": f"Bearer {stack.admin_key}"}
    )
    assert created.status == 201, created.body
    FUZZED.update(org_id=created.json["org"]["org_id"], key=created.json["api_key"], admin=stack.admin_key)
    connect = {"provider": "sandbox", "credentials": {}, "confirm": True}
    path = f"{stack.base_url}/v1/orgs/{FUZZED['org_id']}/integrations/postal/connect"
    assert http("POST", path, connect, {"Authorization": f"Bearer {FUZZED['key']}"}).status == 200
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    doc["servers"] = [{"url": stack.base_url}]
    # Rotating the key would revoke the key the run uses; test_orgs_api.py and test_isolation.py cover it.
    FUZZED["base_url"] = stack.base_url
    return schemathesis.openapi.from_dict(doc).exclude(path="/v1/orgs/{org_id}/api-key")


def test_generated_requests_never_get_a_5xx_and_every_error_is_ours_and_documented(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 32  # every operation but the key rotation
    seen: dict[int, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=CASES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case: Any) -> None:
            if case.path_parameters and "org_id" in case.path_parameters:
                case.path_parameters["org_id"] = FUZZED["org_id"]  # our org: the requests reach the handlers
            key = FUZZED["admin"] if case.path == "/v1/orgs" else FUZZED["key"]
            response = case.call(FUZZED["base_url"], headers={"Authorization": f"Bearer {key}"}, timeout=60)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
            if response.status_code >= 400:
                error = response.json()["error"]
                assert {"code", "message", "details"} <= set(error), response.text[:300]
            seen[response.status_code] = seen.get(response.status_code, 0) + 1

        run()
    print(f"schemathesis: {len(operations)} operations, {sum(seen.values())} cases, {dict(sorted(seen.items()))}")
    assert not [status for status in seen if status >= 500]

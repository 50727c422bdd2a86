"""The API's OpenAPI document, generated from the handlers' routes and pydantic models (`make openapi`).

Every HTTP function has its own resolver; this merges their schemas into one document (committed as
docs/openapi.json; a test fails when it drifts from the code).
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

API_FUNCTIONS = (
    "orgs_api",
    "settings_api",
    "channels_api",
    "integration_api",
    "documents_api",
    "template_checks",
    "letters_api",
    "webhooks",
)


# What each status means in this API; every error body is `Error` (PRODUCT.md §4).
STATUS_TEXT: dict[int, tuple[str, str, str]] = {
    # status: (description, example code, example message)
    400: ("Bad request: the body is not UTF-8 JSON, nests too deep, or a header or cursor is malformed",
          "invalid_json", "the request body is not valid JSON"),
    401: ("Missing, unknown or revoked API key", "unauthorized", "missing or invalid API key"),
    403: ("The call needs the admin key", "admin_only", "this call needs the admin key"),
    404: ("No such organisation for this key (another org's id answers 404 too), resource or route",
          "not_found", "organisation 'org_x' not found"),
    409: ("The current state forbids it (not connected, a concurrent change, a key already used)",
          "concurrent_modification", "the item changed concurrently"),
    413: ("The request is too large (inline PDFs: see pdf_base64's limit; larger PDFs use the upload)",
          "payload_too_large", "the request body is too large"),
    415: ("Unsupported Content-Type or charset", "unsupported_media_type", "this route takes a JSON body"),
    422: ("The body or a parameter is invalid; `details` names the fields", "validation_failed",
          "the request is invalid"),
    202: ("Accepted: the cancel is queued behind the hand-over in progress (`cancel_queued: true`)",
          "cancel_queued", "the cancel is queued"),
    429: ("Throttled: retry after a short wait", "too_many_requests", "slow down"),
    503: ("The print-and-mail provider is unavailable: retry later", "provider_unavailable",
          "the provider is unavailable"),
}  # fmt: skip

# Every authorised route can answer these: the gateway (401, 413, 429), the resolver before the route (400 body
# decoding, 404 another org, 415 a charset), validation (422).
COMMON = (400, 401, 404, 413, 415, 422, 429)
PUBLIC_COMMON = (400, 404, 413, 415, 422, 429)

# Success status and the statuses beyond COMMON, per operation. `make openapi` fails for a route missing here,
# and tests/apigw.py fails any test that sees a status its operation does not document.
OPERATIONS: dict[tuple[str, str], tuple[int, tuple[int, ...]]] = {
    ("GET", "/v1/health"): (200, ()),
    ("POST", "/v1/orgs"): (201, (403, 409)),
    ("GET", "/v1/orgs/{org_id}"): (200, ()),
    ("PATCH", "/v1/orgs/{org_id}"): (200, (409,)),
    ("POST", "/v1/orgs/{org_id}/api-key"): (200, (409,)),
    ("GET", "/v1/orgs/{org_id}/collection-steps"): (200, ()),
    ("PUT", "/v1/orgs/{org_id}/collection-steps"): (200, (409,)),
    ("GET", "/v1/orgs/{org_id}/customers/{customer_id}"): (200, ()),
    ("PUT", "/v1/orgs/{org_id}/customers/{customer_id}"): (200, (409,)),
    ("GET", "/v1/orgs/{org_id}/customers/{customer_id}/channel"): (200, ()),
    ("POST", "/v1/orgs/{org_id}/documents"): (201, (409,)),
    ("GET", "/v1/orgs/{org_id}/integrations/postal"): (200, ()),
    ("POST", "/v1/orgs/{org_id}/integrations/postal/connect"): (200, (409, 503)),
    ("POST", "/v1/orgs/{org_id}/integrations/postal/disconnect"): (202, (409,)),
    ("GET", "/v1/orgs/{org_id}/integrations/postal/disconnect-impact"): (200, ()),
    ("GET", "/v1/orgs/{org_id}/invoices/{invoice_id}"): (200, ()),
    ("PUT", "/v1/orgs/{org_id}/invoices/{invoice_id}"): (200, (409,)),
    ("GET", "/v1/orgs/{org_id}/jobs/{job_id}"): (200, ()),
    ("GET", "/v1/orgs/{org_id}/letters"): (200, ()),
    ("POST", "/v1/orgs/{org_id}/letters"): (202, (409, 503)),
    ("GET", "/v1/orgs/{org_id}/letters/{letter_id}"): (200, ()),
    ("POST", "/v1/orgs/{org_id}/letters/{letter_id}/cancel"): (200, (202, 409, 503)),
    ("GET", "/v1/orgs/{org_id}/prices"): (200, (409, 503)),
    ("GET", "/v1/orgs/{org_id}/prices/nightly"): (200, (409, 503)),
    ("GET", "/v1/orgs/{org_id}/tasks"): (200, ()),
    ("GET", "/v1/orgs/{org_id}/tasks/{task_id}"): (200, ()),
    ("POST", "/v1/orgs/{org_id}/tasks/{task_id}/complete"): (200, (409,)),
    ("GET", "/v1/orgs/{org_id}/templates"): (200, ()),
    ("GET", "/v1/orgs/{org_id}/templates/{template_id}"): (200, ()),
    ("PUT", "/v1/orgs/{org_id}/templates/{template_id}"): (200, (409,)),
    ("POST", "/v1/orgs/{org_id}/templates/{template_id}/check"): (200, (409,)),
    ("POST", "/v1/orgs/{org_id}/templates/{template_id}/pdf"): (200, (409,)),
    ("POST", "/v1/webhooks/{provider}/{org_id}"): (200, (401, 409)),
}
PUBLIC = {("GET", "/v1/health"), ("POST", "/v1/webhooks/{provider}/{org_id}")}

# Requests that create something take an Idempotency-Key (PRODUCT.md §4); letters require it.
IDEMPOTENT: dict[tuple[str, str], bool] = {
    ("POST", "/v1/orgs"): False,
    ("POST", "/v1/orgs/{org_id}/documents"): False,
    ("POST", "/v1/orgs/{org_id}/letters"): True,
}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable"},
                "message": {"type": "string"},
                "details": {"description": "What exactly: the fields, the problems, the ids (or null)"},
                "fix": {"type": "string", "description": "What to do about it, when there is something to do"},
            },
        }
    },
}


def statuses(method: str, path: str) -> dict[int, str]:
    """Every status the operation can answer, with its description."""
    success, extra = OPERATIONS[(method, path)]
    common = PUBLIC_COMMON if (method, path) in PUBLIC else COMMON
    described = {success: "Success"}
    described.update({status: STATUS_TEXT[status][0] for status in sorted({*common, *extra})})
    return described


def _responses(method: str, path: str, generated: dict[str, Any]) -> dict[str, Any]:
    ok = generated.get("200", {"description": "Success"})
    responses: dict[str, Any] = {}
    for status, description in statuses(method, path).items():
        if status < 400:
            responses[str(status)] = {**ok, "description": description}
            continue
        _, code, message = STATUS_TEXT[status]
        example = {"error": {"code": code, "message": message, "details": None}}
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "example": example}},
        }
    return responses


def _idempotency_header(required: bool) -> dict[str, Any]:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": required,
        "description": "Unique per request, repeated on a retry of the same request: a replay never creates a "
        "second resource; the same key with another body is a 422. A refused request does not use the key up.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    }


def build() -> dict[str, Any]:
    """One OpenAPI 3 document for every API function that has a resolver."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Postal Comms API",
            "version": "1.0.0",
            "description": "Invoices, payment reminders and one-off letters by post. "
            "Auth: `Authorization: Bearer <org API key>`; admin calls use the admin key.",
        },
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
    for name in API_FUNCTIONS:
        module = importlib.import_module(f"{name}.handler")
        app = getattr(module, "app", None)
        if app is None:
            continue
        schema = json.loads(app.get_openapi_json_schema())
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                operation.setdefault("tags", [name.removesuffix("_api").replace("_", " ")])
                key = (method.upper(), path)
                operation["responses"] = _responses(*key, operation.get("responses", {}))
                if key in IDEMPOTENT:
                    params = [p for p in operation.get("parameters", []) if p.get("name") != "Idempotency-Key"]
                    operation["parameters"] = [*params, _idempotency_header(IDEMPOTENT[key])]
            doc["paths"].setdefault(path, {}).update(operations)
        doc["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        doc["components"]["schemas"].pop(unused, None)
    doc["components"]["schemas"]["Error"] = ERROR_SCHEMA
    if "/v1/health" in doc["paths"]:
        doc["paths"]["/v1/health"]["get"]["security"] = []
    doc["paths"] = dict(sorted(doc["paths"].items()))
    doc["components"]["schemas"] = dict(sorted(doc["components"]["schemas"].items()))
    return doc


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

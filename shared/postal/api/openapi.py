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
            for operation in operations.values():
                operation.setdefault("tags", [name.removesuffix("_api").replace("_", " ")])
            doc["paths"].setdefault(path, {}).update(operations)
        doc["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    if "/v1/health" in doc["paths"]:
        doc["paths"]["/v1/health"]["get"]["security"] = []
    doc["paths"] = dict(sorted(doc["paths"].items()))
    doc["components"]["schemas"] = dict(sorted(doc["components"]["schemas"].items()))
    return doc


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

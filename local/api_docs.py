"""What the local gateway serves about the API itself: Swagger UI (`/docs`, assets from swagger-ui-bundle) and
the OpenAPI document (docs/openapi.json, or a minimal one derived from the template's routes)."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from local.cfn import ROOT
from local.messages import Response, error_response
from local.routes import Route

OPENAPI_PATH = ROOT / "docs" / "openapi.json"

SWAGGER_HTML = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Postal Comms API (local)</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
</script></body></html>
"""


def swagger_page() -> Response:
    """GET /docs."""
    return Response(200, SWAGGER_HTML.encode(), [("Content-Type", "text/html; charset=utf-8")])


def swagger_asset(name: str) -> Response:
    """GET /docs/static/<name>: a file of the Swagger UI bundle."""
    from swagger_ui_bundle import swagger_ui_path

    assets = Path(str(swagger_ui_path))
    # Only names that exist in the bundle directory: no path traversal.
    if name not in {p.name for p in assets.iterdir() if p.is_file()}:
        return error_response(404, "not_found", f"no asset {name}")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(200, (assets / name).read_bytes(), [("Content-Type", content_type)])


def openapi_document(base_url: str, routes: list[Route]) -> dict[str, Any]:
    """docs/openapi.json when present, else a minimal document from the template; servers point here."""
    doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8")) if OPENAPI_PATH.exists() else openapi_from_routes(routes)
    doc["servers"] = [{"url": base_url, "description": "local stack"}]
    return doc


def openapi_from_routes(routes: list[Route]) -> dict[str, Any]:
    """A minimal OpenAPI 3 document: one operation per route, path parameters, bearer auth where it applies."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.event.name,
            "tags": [route.function.removesuffix("Function")],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in route.pattern.groupindex
            ],
            "responses": {"default": {"description": "see PRODUCT.md §4"}},
        }
        if route.event.method in ("POST", "PUT", "PATCH"):
            operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
        if route.event.authorizer is None:
            operation["security"] = []
        paths.setdefault(route.event.path, {})[route.event.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Postal Comms (generated from template.yaml)", "version": "local"},
        "paths": paths,
        "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
        "security": [{"apiKey": []}],
    }

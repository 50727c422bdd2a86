"""The API resolver every HTTP function uses, and the ONE place domain errors become HTTP responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel

from postal import auth
from postal.errors import DomainError, Forbidden, NotFound

logger = Logger(child=True)


def error_response(status: int, code: str, message: str, details: Any = None, fix: str | None = None) -> Response:
    """`{"error": {"code", "message", "details"[, "fix"]}}` (PRODUCT.md §4)."""
    error: dict[str, Any] = {"code": code, "message": message, "details": details}
    if fix:
        error["fix"] = fix
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": error}, default=str),
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        return ".".join(parts[1:]) or parts[0]
    return ".".join(parts)


def build_app() -> APIGatewayRestResolver:
    """A Powertools REST resolver with pydantic validation and our error shape."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response:
        return error_response(exc.http_status, exc.code, exc.message, exc.details, exc.fix)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        details = [
            {"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")} for e in errors
        ]
        return error_response(422, "validation_failed", "the request is invalid", details)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(404, "not_found", "no such route")

    return app


class Principal(BaseModel):
    """Who is calling, as established by the authorizer."""

    org_id: str | None = None
    is_admin: bool = False


def principal(app: APIGatewayRestResolver) -> Principal:
    ctx: dict[str, Any] = dict(app.current_event.request_context.authorizer or {})
    raw_admin = ctx.get("is_admin", False)
    return Principal(
        org_id=ctx.get("org_id") or None,
        is_admin=str(raw_admin).lower() == "true",
    )


def require_org(app: APIGatewayRestResolver, org_id: str) -> str:
    """An org key only reaches its own org: any other org id answers 404 (no existence leak)."""
    who = principal(app)
    if who.is_admin or (who.org_id is not None and who.org_id == org_id):
        return org_id
    raise NotFound(f"organisation '{org_id}' not found")


def require_admin(app: APIGatewayRestResolver) -> None:
    if not principal(app).is_admin:
        raise Forbidden("this call needs the admin key", code="admin_only")


def require_current_key(app: APIGatewayRestResolver, keys: auth.KeyLookup, admin_key: Callable[[], str]) -> None:
    """401 unless the key the caller presented is still valid (the authorizer's answer may be cached)."""
    who = principal(app)
    auth.require_current_key(
        auth.bearer_token(header(app, "Authorization")),
        org_id=who.org_id,
        is_admin=who.is_admin,
        keys=keys,
        admin_key=admin_key,
    )


def header(app: APIGatewayRestResolver, name: str) -> str | None:
    headers = app.current_event.headers or {}
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None

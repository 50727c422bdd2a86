"""The API resolver every HTTP function uses, and the ONE place domain errors become HTTP responses."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from postal import auth
from postal.api.errors import domain_response, error_response, validation_details
from postal.errors import DomainError, Forbidden, NotFound

logger = Logger(child=True)


# No request body of this API nests deeper; deeper JSON is refused before anything parses it recursively.
MAX_JSON_DEPTH = 32
ADMIN_ONLY = {("POST", "/v1/orgs")}  # refused with 403 for an org key before the body is validated
_ORG_PATH = re.compile(r"^/v1/orgs/([^/]+)(?:/|$)")
# C0 controls other than tab, newline and carriage return, and lone surrogates ("\ud800" in JSON): no field of
# this API means them, and DynamoDB, S3 metadata and the PDF renderer each fail on some of them.
_BAD_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


class PostalResolver(APIGatewayRestResolver):
    """Powertools' resolver with the checks that must come before body validation (PRODUCT.md §4).

    Order: the authorizer has authenticated; the org in the path is authorised (another org's path answers 404
    whatever the body); then the body must be decodable (UTF-8 JSON, bounded nesting, a multipart boundary);
    only then do the route's pydantic models validate it.
    """

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        refused = _refuse_early(event)
        if refused is not None:
            return refused
        return super().resolve(event, context)


def _refuse_early(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """A proxy response for a request refused before routing, or None."""
    path = str(event.get("path") or "")
    ctx = (event.get("requestContext") or {}).get("authorizer") or {}
    is_admin = str(ctx.get("is_admin", "false")).lower() == "true"
    if (str(event.get("httpMethod")), path.rstrip("/")) in ADMIN_ONLY and not is_admin:
        return _proxy_error(403, "admin_only", "this call needs the admin key")
    match = _ORG_PATH.match(path)
    if match:
        org_id = unquote(match[1])
        if not is_admin and ctx.get("org_id") != org_id:
            return _proxy_error(404, "not_found", f"organisation '{org_id}' not found")
    body = event.get("body")
    if not body:
        return None
    content_type = next((str(v) for k, v in (event.get("headers") or {}).items() if k.lower() == "content-type"), "")
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media == "multipart/form-data" and "boundary=" not in params.lower():
        return _proxy_error(
            400,
            "invalid_multipart",
            "multipart/form-data needs a boundary parameter",
            fix="send Content-Type: multipart/form-data; boundary=... (or the PDF as application/pdf)",
        )
    if media in ("", "application/json") or media.endswith("+json"):
        charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
        if charset and charset[1].lower() not in ("utf-8", "utf8"):
            return _proxy_error(415, "unsupported_media_type", "JSON bodies must be UTF-8 (RFC 8259)")
        return _json_problem(body, bool(event.get("isBase64Encoded")))
    return None


def _json_problem(body: str, is_base64: bool) -> dict[str, Any] | None:
    """400 for a body that is not UTF-8, not JSON or nested too deep; 422 naming a field with control characters."""
    try:
        text = base64.b64decode(body, validate=True).decode("utf-8") if is_base64 else body
    except (binascii.Error, UnicodeDecodeError):
        return _proxy_error(400, "invalid_encoding", "the request body is not UTF-8 JSON (RFC 8259)")
    try:
        value = json.loads(text)
    except RecursionError:
        return _too_deep()
    except ValueError:
        return _proxy_error(400, "invalid_json", "the request body is not valid JSON")
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _too_deep()
        if isinstance(item, str):
            if _BAD_CHARACTERS.search(item):
                details = [{"field": where or "body", "message": "control characters or lone surrogates"}]
                return _proxy_error(422, "validation_failed", "the request is invalid", details)
        elif isinstance(item, dict):
            for key, child in item.items():
                if _BAD_CHARACTERS.search(key):
                    return _proxy_error(422, "validation_failed", "the request is invalid", [{"field": where}])
                stack.append((child, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{i}", depth + 1) for i, child in enumerate(item))
    return None


def _too_deep() -> dict[str, Any]:
    return _proxy_error(400, "json_too_deep", f"the request body nests deeper than {MAX_JSON_DEPTH} levels")


def _proxy_error(status: int, code: str, message: str, details: Any = None, fix: str | None = None) -> dict[str, Any]:
    """A Lambda proxy result in our error shape, for requests refused before Powertools routes them."""
    response = error_response(status, code, message, details, fix)
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }


def build_app() -> PostalResolver:
    """A Powertools REST resolver with pydantic validation and our error shape."""
    app = PostalResolver(enable_validation=True)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_: RequestUnsupportedContentType) -> Response:
        return error_response(
            415,
            "unsupported_media_type",
            "this route takes a JSON body",
            fix="send Content-Type: application/json",
        )

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response:
        return domain_response(exc)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        if any(e.get("type") == "string_too_long" and tuple(e.get("loc", ()))[-1:] == ("pdf_base64",) for e in errors):
            return error_response(
                413,
                "pdf_too_large_inline",
                "pdf_base64 is larger than a request can carry (6,000,000 base64 characters, a 4.5 MB PDF)",
                fix='send {"upload": true} instead of pdf_base64: the answer has a short-lived upload_url to PUT '
                "the PDF to; the letter is checked and queued when it arrives",
            )
        return error_response(422, "validation_failed", "the request is invalid", validation_details(errors))

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

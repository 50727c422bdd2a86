"""The ONE mapping from domain errors to HTTP: a status per error class, the error envelope (PRODUCT.md §4) and
the one helper that turns pydantic's errors into `details`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from postal import errors

if TYPE_CHECKING:  # services import `validation_details` and `status_for` without the resolver
    from aws_lambda_powertools.event_handler import Response

# Domain error class -> HTTP status. A subclass not listed takes its nearest listed base's status.
STATUS: dict[type[errors.DomainError], int] = {
    errors.DomainError: 400,
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.ValidationFailed: 422,
    errors.TooManyRequests: 429,
    errors.ServiceUnavailable: 503,
}
# Where a pydantic location starts with one of these, the part is dropped: `body.recipient.name` -> `recipient.name`.
_SOURCES = frozenset({"body", "query", "path", "header"})


def status_for(exc: errors.DomainError) -> int:
    """The HTTP status of `exc`: its class's, or its nearest base class's, in `STATUS`."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def envelope(code: str, message: str, details: Any = None, fix: str | None = None) -> str:
    """`{"error": {"code", "message", "details"[, "fix"]}}` as JSON."""
    error: dict[str, Any] = {"code": code, "message": message, "details": details}
    if fix:
        error["fix"] = fix
    return json.dumps({"error": error}, default=str)


def error_response(status: int, code: str, message: str, details: Any = None, fix: str | None = None) -> Response:
    """The envelope as a Powertools response."""
    from aws_lambda_powertools.event_handler import Response, content_types

    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=envelope(code, message, details, fix)
    )


def domain_response(exc: errors.DomainError) -> Response:
    """A domain error as its response: the status from `STATUS`, the envelope from the error."""
    return error_response(status_for(exc), exc.code, exc.message, exc.details, exc.fix)


def field_name(loc: Iterable[Any], *, root: str = "body") -> str:
    """A pydantic location as a dotted field name, without the request part it came from."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _SOURCES:
        return ".".join(parts[1:]) or parts[0]
    return ".".join(parts) or root


def validation_details(problems: Iterable[Mapping[str, Any]], *, root: str = "body") -> list[dict[str, str]]:
    """pydantic's `errors()` as `details`: one `{"field", "message", "type"}` per problem (`root` for the whole)."""
    return [
        {
            "field": field_name(p.get("loc", ()), root=root),
            "message": str(p.get("msg", "")),
            "type": str(p.get("type", "")),
        }
        for p in problems
    ]

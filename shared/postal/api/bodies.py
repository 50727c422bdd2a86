"""Reading raw HTTP request bodies the event handler does not parse for us: a body that is a file or JSON by its
`Content-Type`, base64-encoded by API Gateway for binary media types, or an optional JSON object."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from postal.api.errors import validation_details
from postal.errors import BadRequest, DomainError, ValidationFailed


def media_type(content_type: str | None) -> str:
    """`application/pdf` of `Application/PDF; charset=...`; empty when there is no `Content-Type`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def raw_bytes(body: str | None, is_base64: bool, *, max_bytes: int, too_large: Callable[[int], DomainError]) -> bytes:
    """The request body as bytes. Binary bodies come base64-encoded from API Gateway (binary media types); one far
    over `max_bytes` is refused with `too_large(size)` before it is decoded."""
    if not body:
        return b""
    if is_base64:
        # base64 is 4/3 of the payload: refuse a far too large body before decoding it.
        if len(body) * 3 // 4 > max_bytes + 3:
            raise too_large(len(body) * 3 // 4)
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the body is not valid base64", code="invalid_body") from exc
    try:
        # A gateway that passes binary through as text maps bytes 1:1 to code points (latin-1).
        return body.encode("latin-1")
    except UnicodeEncodeError:
        return body.encode("utf-8")  # already mangled by a text decode: the PDF check will say it is unreadable


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body; an empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise BadRequest("the request body is not valid JSON", code="invalid_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    return value


def validated[M: BaseModel](model: type[M], data: dict[str, Any]) -> M:
    """`data` as `model`, or a 422 with the same `details` as the event handler's own validation."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("the request is invalid", details=validation_details(exc.errors())) from exc

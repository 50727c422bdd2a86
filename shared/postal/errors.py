"""The one domain error hierarchy. `postal.api.errors` maps these to HTTP in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the service raises on purpose. `code` is stable and machine-readable."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, details: Any = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        self.fix = fix


class BadRequest(DomainError):
    code = "bad_request"
    http_status = 400


class Unauthorized(DomainError):
    code = "unauthorized"
    http_status = 401


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    """The request is valid but the current state forbids it (e.g. `post` while disconnected)."""

    code = "conflict"
    http_status = 409


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    http_status = 415


class ValidationFailed(DomainError):
    """Semantically invalid input (422): `details` names the fields."""

    code = "validation_failed"
    http_status = 422


class TooManyRequests(DomainError):
    code = "too_many_requests"
    http_status = 429


class PreconditionFailed(Conflict):
    """An optimistic-lock or conditional write lost a race."""

    code = "concurrent_modification"


class InvalidTransition(Conflict):
    """A state machine was asked to move backwards or out of a final state."""

    code = "invalid_transition"

"""The one home of the service's errors. No HTTP here: `postal.api.errors` maps each class to a status.

A `DomainError` is a refusal the service makes on purpose: a stable `code` (`postal.codes.Code`), a human
`message`, the `fix` a person must make and machine-readable `details`. A `ProviderError` is what a provider
adapter raises (a refusal or a fault, with `retryable`); services turn it into a `DomainError` or a letter error.
"""

from __future__ import annotations

from typing import Any

from postal.codes import Code


class DomainError(Exception):
    """Base of every error the service raises on purpose. `code` is stable and machine-readable."""

    code: str = Code.ERROR.value

    def __init__(self, message: str, *, code: str | None = None, details: Any = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        self.fix = fix


class BadRequest(DomainError):
    """The request cannot be read (not JSON, bad base64, a bad cursor)."""

    code = Code.BAD_REQUEST.value


class Unauthorized(DomainError):
    code = Code.UNAUTHORIZED.value


class Forbidden(DomainError):
    code = Code.FORBIDDEN.value


class NotFound(DomainError):
    code = Code.NOT_FOUND.value


class Conflict(DomainError):
    """The request is valid but the current state forbids it (e.g. `post` while disconnected)."""

    code = Code.CONFLICT.value


class PayloadTooLarge(DomainError):
    code = Code.PAYLOAD_TOO_LARGE.value


class UnsupportedMediaType(DomainError):
    code = Code.UNSUPPORTED_MEDIA_TYPE.value


class ValidationFailed(DomainError):
    """Semantically invalid input: `details` names the fields."""

    code = Code.VALIDATION_FAILED.value


class TooManyRequests(DomainError):
    code = Code.TOO_MANY_REQUESTS.value


class PreconditionFailed(Conflict):
    """An optimistic-lock or conditional write lost a race."""

    code = Code.CONCURRENT_MODIFICATION.value


class NotConnected(Conflict):
    """What was asked needs the org's postal integration to be connected."""

    code = Code.INTEGRATION_NOT_CONNECTED.value


class InvalidTransition(Conflict):
    """A state machine was asked to move backwards or out of a final state."""

    code = Code.INVALID_TRANSITION.value


class ServiceUnavailable(DomainError):
    """Not the caller's fault: a dependency could not be reached. Try again later."""

    code = Code.PROVIDER_UNAVAILABLE.value


class ProviderUnavailable(ServiceUnavailable):
    """The provider could not be reached (after retries)."""

    code = Code.PROVIDER_UNAVAILABLE.value


# ------------------------------------------------------------------------------ what provider adapters raise


class ProviderError(Exception):
    """A provider refused or failed. `retryable` faults are retried with backoff, then dead-lettered."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fix: str,
        retryable: bool = False,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fix = fix
        self.retryable = retryable
        self.retry_after = retry_after
        self.details = details or {}


class UnreadableAnswer(Exception):
    """A provider's answer we cannot read (its shape changed): never proof that nothing was created."""


class InvalidSignature(Exception):
    """A webhook's signature (or its URL token) did not verify."""

"""The HTTP model of the local gateway: requests, responses, the API's error shape and API Gateway's own
gateway responses (the template's GatewayResponses over the built-in defaults)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# API Gateway's built-in gateway responses, used when the template does not override them.
_DEFAULT_RESPONSES: dict[str, tuple[int, str, str]] = {
    "UNAUTHORIZED": (401, '{"message":"Unauthorized"}', "UnauthorizedException"),
    "ACCESS_DENIED": (403, '{"message":"User is not authorized to access this resource"}', "AccessDeniedException"),
    "AUTHORIZER_FAILURE": (500, '{"message":null}', "AuthorizerFailureException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, '{"message":null}', "AuthorizerConfigurationException"),
    "REQUEST_TOO_LARGE": (413, '{"message":"Request Too Long"}', "RequestTooLargeException"),
    "INTEGRATION_FAILURE": (502, '{"message": "Internal server error"}', "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": (504, '{"message": "Endpoint request timed out"}', "IntegrationTimeoutException"),
}


@dataclass
class Request:
    """An HTTP request as the gateway sees it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """Last value of a header, case-insensitively (what API Gateway puts in `headers`)."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


@dataclass
class Response:
    """An HTTP response to write back."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: Any, extra_headers: list[tuple[str, str]] | None = None) -> Response:
    """A JSON response."""
    return Response(
        status, json.dumps(payload).encode(), [("Content-Type", "application/json"), *(extra_headers or [])]
    )


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """An error in the API's contract shape (PRODUCT.md §4)."""
    return json_response(status, {"error": {"code": code, "message": message, "details": details}})


class GatewayResponses:
    """API Gateway's responses of its own (401, 403, 413, 502, ...): the template's GatewayResponses where it sets
    them (a `DEFAULT_4XX`/`DEFAULT_5XX` body for the rest of its class), else the built-in ones."""

    def __init__(self, configured: dict[str, tuple[int, str]]) -> None:
        self.configured = configured

    def __call__(self, kind: str) -> Response:
        """The gateway response of one type (`UNAUTHORIZED`, `INTEGRATION_FAILURE`, ...)."""
        status, body, error_type = _DEFAULT_RESPONSES[kind]
        if kind in self.configured:
            status, body = self.configured[kind]
        elif (default := f"DEFAULT_{str(status)[0]}XX") in self.configured:
            body = self.configured[default][1]
        return Response(status, body.encode(), [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)])

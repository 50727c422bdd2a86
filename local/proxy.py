"""The Lambda proxy integration of a REST API (v1): the event API Gateway builds from a request, and the
proxy result turned back into an HTTP response."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from local.cfn import ACCOUNT_ID, REGION
from local.messages import Request, Response
from local.routes import Route


@dataclass(frozen=True)
class Stage:
    """The deployed Api the events name: its id, stage and the host it is served on."""

    api_id: str
    stage: str
    port: int

    def method_arn(self, method: str, path: str) -> str:
        """`arn:aws:execute-api:...:<api>/<stage>/<METHOD>/<path>`, what the authorizer's policy is checked against."""
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/{method}/{path.lstrip('/')}"

    def request_context(self, route: Route, request: Request, request_id: str) -> dict[str, Any]:
        """The event's `requestContext` (without the authorizer's part)."""
        now = time.time()
        return {
            "accountId": ACCOUNT_ID,
            "apiId": self.api_id,
            "resourceId": route.event.name,
            "resourcePath": route.event.path,
            "httpMethod": request.method,
            "path": f"/{self.stage}{request.path}",
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": formatdate(now, usegmt=True),
            "requestTimeEpoch": int(now * 1000),
            "domainName": f"127.0.0.1:{self.port}",
            "domainPrefix": "127",
            "identity": {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")},
        }

    def base_event(
        self, route: Route, path_parameters: dict[str, str], request: Request, request_id: str
    ) -> dict[str, Any]:
        """The proxy event without its body: what the authorizer sees too."""
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers:
            multi_headers.setdefault(key, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for key, value in parse_qsl(request.query, keep_blank_values=True):
            multi_query.setdefault(key, []).append(value)
        return {
            "resource": route.event.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": self.request_context(route, request, request_id),
        }


def add_body(event: dict[str, Any], body: bytes, *, binary_type: bool) -> None:
    """The request body into the event: base64 for a binary media type (or bytes that are not UTF-8)."""
    try:
        text = body.decode("utf-8")
        binary = binary_type
    except UnicodeDecodeError:
        text, binary = "", True
    event["body"] = (base64.b64encode(body).decode() if binary else text) if body else None
    event["isBase64Encoded"] = binary and bool(body)


def decode_proxy_response(result: Any, *, binary_ok: bool = False) -> Response:
    """A Lambda proxy result -> HTTP response; API Gateway rejects anything else as malformed (502).

    A base64 body is decoded only when the request's first Accept type is a binary media type, as API Gateway
    does; otherwise the client gets the base64 text.
    """
    if not isinstance(result, dict):
        raise TypeError(f"expected an object, got {type(result).__name__}")
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise TypeError("body must be a string")
    data = base64.b64decode(body) if result.get("isBase64Encoded") and binary_ok else body.encode()
    multi = {k.lower(): [str(v) for v in values] for k, values in (result.get("multiValueHeaders") or {}).items()}
    # As API Gateway: a header present in multiValueHeaders takes its values from there only.
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() not in multi]
    headers += [(k, v) for k, values in multi.items() for v in values]
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding", "connection")]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Response(int(result["statusCode"]), data, headers)

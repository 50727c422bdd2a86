"""Drive the real `lambda_handler`s with API Gateway (REST, v1) proxy events, authorizer included."""

from __future__ import annotations

import base64
import importlib
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tests.routes import documented_statuses, operation_for


class FakeLambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def handler(module: str) -> Any:
    return importlib.import_module(f"{module}.handler").lambda_handler


def authorize(key: str | None) -> dict[str, str] | None:
    """Run the real authorizer like API Gateway does; None when it denies."""
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/v1/GET/v1/orgs",
        "headers": {"Authorization": f"Bearer {key}"} if key else {},
    }
    try:
        policy = handler("authorizer")(event, FakeLambdaContext())
    except Exception:
        return None
    return dict(policy["context"])


def call(
    module: str,
    method: str,
    path: str,
    *,
    key: str | None = None,
    body: Any = None,
    raw_body: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    auth: bool = True,
    cached_auth: dict[str, str] | None = None,
) -> Reply:
    """Invoke `<module>.handler.lambda_handler` with a proxy event; 401 like API Gateway when auth fails.
    `cached_auth`: the authorizer context API Gateway cached earlier, used instead of running the authorizer."""
    context: dict[str, str] | None = cached_auth
    if auth and cached_auth is None:
        context = authorize(key)
        if context is None:
            return Reply(401, {}, json.dumps({"error": {"code": "unauthorized"}}).encode())
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key:
        all_headers["Authorization"] = f"Bearer {key}"
    is_b64 = False
    text: str | None = None
    if raw_body is not None:
        text, is_b64 = base64.b64encode(raw_body).decode(), True
    elif body is not None:
        text = json.dumps(body)
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "v1",
            "httpMethod": method,
            "path": path + ("?" + urlencode(query) if query else ""),
            "resourcePath": path,
            "identity": {"sourceIp": "127.0.0.1"},
            "domainName": "localhost",
            "authorizer": context,
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }
    resp = handler(module)(event, FakeLambdaContext())
    assert_documented(method, path, int(resp["statusCode"]))
    raw = resp.get("body") or ""
    data = base64.b64decode(raw) if resp.get("isBase64Encoded") else raw.encode()
    return Reply(resp["statusCode"], {k.lower(): v for k, v in (resp.get("headers") or {}).items()}, data)


def assert_documented(method: str, path: str, status: int) -> None:
    """Every answer a test sees must be one docs/openapi.json lists for its operation: the document tells the
    truth or the test fails (issue 10)."""
    operation = operation_for(method, path)
    if operation is None:
        return  # no such route: the resolver's 404, not an operation of the API
    documented = documented_statuses(operation.method, operation.path)
    assert status in documented, (
        f"{operation.method} {operation.path} answered {status}, which docs/openapi.json does not list "
        f"({sorted(documented)}): add it to postal.api.openapi.OPERATIONS and run `make openapi`"
    )


def sqs_event(bodies: list[str], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:q") -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": str(uuid.uuid4()),
                "body": b,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for b in bodies
        ]
    }

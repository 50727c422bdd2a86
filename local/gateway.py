"""Run the template's functions in-process the way AWS would call them.

- `LambdaRuntime` imports handlers by their handler string and invokes them with a Lambda-like context; like
  Lambda, events and results must survive a JSON round trip and a run longer than the function's Timeout fails.
- `Gateway` is a REST API (v1, Lambda proxy) emulation on a stdlib `ThreadingHTTPServer`: every `Api` event of
  the template is a route, the REQUEST authorizer runs first (with API Gateway's caching, policy evaluation and
  context stringification), and gateway errors use the template's GatewayResponses. It also serves Swagger UI,
  the OpenAPI document and the local-only endpoints (`GET /local`, `POST /local/schedules/{name}`).
- `SqsPoller` is an SQS event source mapping: receive, invoke, delete what succeeded (partial batch failures).
"""

from __future__ import annotations

import base64
import fnmatch
import importlib
import json
import logging
import mimetypes
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3

from local.cfn import ACCOUNT_ID, REGION, ROOT, ApiEvent, FunctionSpec, ScheduleEvent, SqsEvent, Template

log = logging.getLogger("local")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024  # synchronous invoke limit, request and response
INTEGRATION_TIMEOUT_S = 29  # API Gateway REST integration timeout
AUTH_CACHE_ENTRIES = 1000  # authorizer answers kept at most (API Gateway's cache is bounded too)
LISTEN_BACKLOG = 128  # simultaneous connections waiting to be accepted (http.server's default is 5)
OPENAPI_PATH = ROOT / "docs" / "openapi.json"


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


class PayloadTooLarge(Exception):
    """Lambda refused the invocation: the event is over 6 MB (the function never ran)."""


class FunctionError(Exception):
    """A function failed the way Lambda reports it: it raised, timed out, or returned non-JSON.

    Callers log `detail` (with the traceback) when the failure is unexpected; an authorizer's "Unauthorized"
    is its normal way to say no and is not worth a traceback per request.
    """

    def __init__(self, message: str, detail: str = "", error_message: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or message
        self.error_message = error_message  # the exception's own message, as Lambda reports `errorMessage`


# ------------------------------------------------------------------------------------------------- Lambda runtime


class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function's Timeout (never negative)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaRuntime:
    """Invokes the template's functions in this process (env is set once by the stack for all of them)."""

    def __init__(self, functions: list[FunctionSpec]) -> None:
        self.functions = {spec.logical_id: spec for spec in functions}
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._lock = threading.Lock()
        # One execution environment per function: Lambda never runs two events concurrently in one environment,
        # so module-level state (Powertools' logger keys, cached clients) must not see that here either.
        self._environments = {logical_id: threading.Lock() for logical_id in self.functions}

    def handler(self, logical_id: str) -> Callable[[Any, Any], Any]:
        """Import `module.function` from the handler string on first use (as a cold start would)."""
        with self._lock:
            if logical_id not in self._handlers:
                module_name, function_name = self.functions[logical_id].handler.rsplit(".", 1)
                self._handlers[logical_id] = getattr(importlib.import_module(module_name), function_name)
            return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Call the function; raise FunctionError when Lambda would report a function error."""
        spec = self.functions[logical_id]
        payload = json.dumps(event)
        if len(payload) > LAMBDA_PAYLOAD_BYTES:
            raise PayloadTooLarge(f"{logical_id}: event is {len(payload) / 2**20:.1f} MB; Lambda takes at most 6 MB")
        with self._environments[logical_id]:
            context = LambdaContext(spec.name, spec.memory, spec.timeout)
            started = time.monotonic()
            try:
                # A fresh copy per call, as Lambda deserialises the event: handlers cannot share or mutate it.
                result = self.handler(logical_id)(json.loads(payload), context)
            except Exception as exc:
                detail = f"{logical_id} raised:\n{traceback.format_exc()}"
                raise FunctionError(f"{type(exc).__name__}: {exc}", detail, error_message=str(exc)) from exc
            elapsed = time.monotonic() - started
        if elapsed > spec.timeout:
            detail = f"{logical_id} ran {elapsed:.1f} s, over its Timeout of {spec.timeout} s: Lambda would kill it"
            raise FunctionError(f"Task timed out after {spec.timeout} seconds", detail)
        try:
            # Lambda serialises the result with plain JSON: a Decimal or datetime is a Runtime.MarshalError there.
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            detail = f"{logical_id} returned a result that is not JSON serialisable: {exc}"
            raise FunctionError(f"Runtime.MarshalError: {exc}", detail) from exc


# ------------------------------------------------------------------------------------------------- HTTP model


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


# ------------------------------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    """One Api event: its path template compiled, and the function that serves it."""

    event: ApiEvent
    function: str
    pattern: re.Pattern[str]
    specificity: tuple[int, int]

    @classmethod
    def of(cls, event: ApiEvent, function: str) -> Route:
        """Compile `/v1/orgs/{org_id}` into a regex; `{name+}` is a greedy proxy parameter."""
        parts, literals, greedy = [], 0, 0
        for segment in event.path.strip("/").split("/"):
            if match := re.fullmatch(r"\{(\w+)(\+)?\}", segment):
                parts.append(f"(?P<{match[1]}>.+)" if match[2] else f"(?P<{match[1]}>[^/]+)")
                greedy += bool(match[2])
            else:
                parts.append(re.escape(segment))
                literals += 1
        # More literal segments win, then fewer greedy ones: what API Gateway calls "most specific".
        return cls(event, function, re.compile("^/" + "/".join(parts) + "$"), (literals, -greedy))


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, decoded path parameters, path_known): path_known without a route means 405."""
    matches = [(route, m) for route in routes if (m := route.pattern.match(path))]
    if not matches:
        return None, {}, False
    best = max(route.specificity for route, _ in matches)
    same_resource = [(r, m) for r, m in matches if r.specificity == best]
    for route, match in same_resource:
        if route.event.method in (method, "ANY"):
            return route, {k: unquote(v) for k, v in match.groupdict().items()}, True
    return None, {}, True


# ------------------------------------------------------------------------------------------------- authorizer


@dataclass(frozen=True)
class AuthResult:
    """A cached authorizer answer: API Gateway caches the policy and re-evaluates it for every method ARN."""

    principal_id: str
    statements: tuple[dict[str, Any], ...]
    context: dict[str, str | None]
    expires: float


def _arn_matches(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def policy_allows(statements: tuple[dict[str, Any], ...], method_arn: str) -> bool:
    """IAM evaluation for `execute-api:Invoke` on `method_arn`: an explicit Deny wins, else any Allow."""

    def as_list(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value or [])

    def applies(statement: dict[str, Any]) -> bool:
        actions = as_list(statement.get("Action"))
        return any(_arn_matches(a, "execute-api:Invoke") for a in actions) and any(
            _arn_matches(r, method_arn) for r in as_list(statement.get("Resource"))
        )

    relevant = [s for s in statements if applies(s)]
    return not any(s.get("Effect") == "Deny" for s in relevant) and any(s.get("Effect") == "Allow" for s in relevant)


def _stringify_context(context: dict[str, Any]) -> dict[str, str | None]:
    """API Gateway hands authorizer context to proxy integrations as strings: True -> "true", 1 -> "1"."""
    result: dict[str, str | None] = {}
    for key, value in context.items():
        if isinstance(value, dict | list):
            raise ValueError(f"authorizer context {key!r} is an object/array, which API Gateway rejects")
        result[key] = None if value is None else json.dumps(value) if isinstance(value, bool) else str(value)
    return result


# ------------------------------------------------------------------------------------------------- gateway


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


class Gateway:
    """The local API Gateway plus the local-only endpoints, on 127.0.0.1."""

    def __init__(
        self, template: Template, runtime: LambdaRuntime, port: int = 3000, info: dict[str, Any] | None = None
    ):
        self.template = template
        self.runtime = runtime
        self.port = port
        self.info = info or {}
        self.stage = template.stage()
        self.api_id = template.physical[next(iter(template.of_type("AWS::Serverless::Api")))].ref
        self.routes = [Route.of(event, spec.logical_id) for spec in runtime.functions.values() for event in spec.api]
        self.schedules: dict[str, tuple[str, ScheduleEvent]] = {
            s.short_name: (spec.logical_id, s) for spec in runtime.functions.values() for s in spec.schedules
        }
        self.authorizers = template.authorizers()
        api = next(iter(template.of_type("AWS::Serverless::Api").values()))
        # The Api's BinaryMediaTypes (`~1` is SAM's escape for `/`): exactly what the deployed Api passes as base64.
        self.binary_media_types = tuple(
            str(t).replace("~1", "/").lower() for t in api.get("Properties", {}).get("BinaryMediaTypes", [])
        )
        self.responses = template.gateway_responses()
        self._auth_cache: dict[tuple[str, ...], AuthResult] = {}
        self._auth_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (the real port once started with port 0)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Listen and serve in a background thread; returns the base URL."""
        gateway = self

        class Handler(_HttpHandler):
            pass

        Handler.gateway = gateway
        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -------------------------------------------------------------- dispatch

    def handle(self, request: Request) -> Response:
        """Answer one request: local endpoints first, then the template's routes."""
        path, method = request.path, request.method
        if method == "GET" and path in ("/docs", "/docs/"):
            return Response(200, SWAGGER_HTML.encode(), [("Content-Type", "text/html; charset=utf-8")])
        if method == "GET" and path.startswith("/docs/static/"):
            return self._swagger_asset(path.removeprefix("/docs/static/"))
        if method == "GET" and path == "/openapi.json":
            return json_response(200, self.openapi())
        if method == "GET" and path == "/local":
            return json_response(200, self.describe())
        if match := re.fullmatch(r"/local/schedules/([^/]+)", path):
            if method != "POST":
                return error_response(405, "method_not_allowed", "use POST to fire a schedule")
            return self.fire_schedule(unquote(match[1]))
        route, path_parameters, path_known = find_route(self.routes, method, path)
        if route is None:
            if path_known:
                return error_response(405, "method_not_allowed", f"{method} is not allowed on {path}")
            return error_response(404, "not_found", f"no route for {method} {path}")
        return self._proxy(route, path_parameters, request)

    def is_binary(self, content_type: str | None) -> bool:
        """Whether a media type is one of the Api's BinaryMediaTypes (wildcards like `image/*` allowed)."""
        media = (content_type or "").split(";", 1)[0].strip().lower()
        return bool(media) and any(fnmatch.fnmatchcase(media, pattern) for pattern in self.binary_media_types)

    def _gateway_response(self, kind: str) -> Response:
        status, body, error_type = _DEFAULT_RESPONSES[kind]
        if kind in self.responses:
            status, body = self.responses[kind]
        elif (default := f"DEFAULT_{str(status)[0]}XX") in self.responses:
            body = self.responses[default][1]
        return Response(status, body.encode(), [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)])

    def _swagger_asset(self, name: str) -> Response:
        from swagger_ui_bundle import swagger_ui_path

        assets = Path(str(swagger_ui_path))
        # Only names that exist in the bundle directory: no path traversal.
        if name not in {p.name for p in assets.iterdir() if p.is_file()}:
            return error_response(404, "not_found", f"no asset {name}")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(200, (assets / name).read_bytes(), [("Content-Type", content_type)])

    # -------------------------------------------------------------- API Gateway emulation

    def _method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/{method}/{path.lstrip('/')}"

    def _request_context(self, route: Route, request: Request, request_id: str) -> dict[str, Any]:
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

    def _base_event(
        self, route: Route, path_parameters: dict[str, str], request: Request, request_id: str
    ) -> dict[str, Any]:
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
            "requestContext": self._request_context(route, request, request_id),
        }

    def _authorize(self, route: Route, event: dict[str, Any], request: Request) -> AuthResult | Response:
        authorizer = self.authorizers[route.event.authorizer or ""]
        identity = tuple(request.header(h) or "" for h in authorizer.identity_headers)
        if not all(identity):  # API Gateway answers 401 without invoking the authorizer
            return self._gateway_response("UNAUTHORIZED")
        method_arn = self._method_arn(request.method, request.path)
        key = (authorizer.name, *identity)
        with self._auth_lock:
            cached = self._auth_cache.get(key)
        if cached is None or cached.expires < time.monotonic():
            auth_event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                **{k: event[k] for k in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
                **{k: event[k] for k in ("queryStringParameters", "multiValueQueryStringParameters")},
                **{k: event[k] for k in ("pathParameters", "stageVariables", "requestContext")},
            }
            try:
                result = self.runtime.invoke(authorizer.function, auth_event)
            except FunctionError as exc:
                # A Lambda error whose message is exactly "Unauthorized" is API Gateway's 401 convention.
                if exc.error_message == "Unauthorized":
                    return self._gateway_response("UNAUTHORIZED")
                log.error("%s", exc.detail)
                return self._gateway_response("AUTHORIZER_FAILURE")
            try:
                statements = tuple(result["policyDocument"]["Statement"])
                cached = AuthResult(
                    principal_id=str(result["principalId"]),
                    statements=statements,
                    context=_stringify_context(result.get("context") or {}),
                    expires=time.monotonic() + authorizer.ttl_seconds,
                )
            except (KeyError, TypeError, ValueError) as exc:
                log.error("authorizer %s returned an invalid response: %s", authorizer.name, exc)
                return self._gateway_response("AUTHORIZER_CONFIGURATION_ERROR")
            if authorizer.ttl_seconds > 0:
                with self._auth_lock:
                    self._remember(key, cached)
        if not policy_allows(cached.statements, method_arn):
            return self._gateway_response("ACCESS_DENIED")
        return cached

    def _remember(self, key: tuple[str, ...], result: AuthResult) -> None:
        """Cache an authorizer answer; expired answers are dropped and the cache is bounded (every distinct
        Authorization header of a hostile client would otherwise stay in memory for the life of the stack)."""
        now = time.monotonic()
        if len(self._auth_cache) >= AUTH_CACHE_ENTRIES:
            for stale in [k for k, v in self._auth_cache.items() if v.expires < now]:
                del self._auth_cache[stale]
            while len(self._auth_cache) >= AUTH_CACHE_ENTRIES:
                del self._auth_cache[next(iter(self._auth_cache))]  # the oldest (dicts keep insertion order)
        self._auth_cache[key] = result

    def _proxy(self, route: Route, path_parameters: dict[str, str], request: Request) -> Response:
        request_id = str(uuid.uuid4())
        event = self._base_event(route, path_parameters, request, request_id)
        if route.event.authorizer is not None:
            auth = self._authorize(route, event, request)
            if isinstance(auth, Response):
                return auth
            event["requestContext"]["authorizer"] = {
                **auth.context,
                "principalId": auth.principal_id,
                "integrationLatency": 0,
            }
        content_type = request.header("Content-Type") or ""
        try:
            text = request.body.decode("utf-8")
            binary = self.is_binary(content_type)
        except UnicodeDecodeError:
            text, binary = "", True
        event["body"] = (base64.b64encode(request.body).decode() if binary else text) if request.body else None
        event["isBase64Encoded"] = binary and bool(request.body)
        started = time.monotonic()
        try:
            result = self.runtime.invoke(route.function, event)
        except PayloadTooLarge as exc:
            # AWS answers a 5xx here; the local stack names the cause and the way round it instead.
            log.warning("%s", exc)
            return error_response(
                413,
                "payload_too_large",
                "the request is over the 6 MB a Lambda invocation carries",
                {"fix": 'for a large PDF, send {"upload": true} and PUT the PDF to the upload_url of the answer'},
            )
        except FunctionError as exc:
            log.error("%s", exc.detail)
            return self._gateway_response("INTEGRATION_FAILURE")
        if time.monotonic() - started > INTEGRATION_TIMEOUT_S:
            return self._gateway_response("INTEGRATION_TIMEOUT")
        try:
            first_accept = (request.header("Accept") or "").split(",", 1)[0]
            response = _decode_proxy_response(result, binary_ok=self.is_binary(first_accept))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("%s returned a malformed proxy response: %s", route.function, exc)
            return self._gateway_response("INTEGRATION_FAILURE")
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    # -------------------------------------------------------------- local-only endpoints

    def fire_schedule(self, name: str) -> Response:
        """Invoke a schedule's function with its Input, as EventBridge Scheduler would, and return the result."""
        found = self.schedules.get(name) or self.schedules.get(name.removeprefix(f"{self.template.stack_name}-"))
        if found is None:
            return error_response(404, "not_found", f"no schedule {name!r}", {"known": sorted(self.schedules)})
        function, schedule = found
        started = time.monotonic()
        try:
            result = self.runtime.invoke(function, schedule.input)
        except FunctionError as exc:
            log.error("%s", exc.detail)
            return json_response(502, {"schedule": schedule.short_name, "function": function, "error": str(exc)})
        duration_ms = round((time.monotonic() - started) * 1000)
        return json_response(
            200, {"schedule": schedule.short_name, "function": function, "duration_ms": duration_ms, "result": result}
        )

    def describe(self) -> dict[str, Any]:
        """What this stack serves (GET /local)."""
        return {
            "base_url": self.base_url,
            "stage": self.stage,
            "routes": [
                {"method": r.event.method, "path": r.event.path, "function": r.function, "auth": r.event.authorizer}
                for r in self.routes
            ],
            "schedules": {
                name: {
                    "function": function,
                    "expression": s.expression,
                    "fire": f"POST {self.base_url}/local/schedules/{name}",
                }
                for name, (function, s) in sorted(self.schedules.items())
            },
            **self.info,
        }

    def openapi(self) -> dict[str, Any]:
        """docs/openapi.json when present, else a minimal document from the template; servers point here."""
        if OPENAPI_PATH.exists():
            doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
        else:
            doc = self._openapi_from_template()
        doc["servers"] = [{"url": self.base_url, "description": "local stack"}]
        return doc

    def _openapi_from_template(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
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


def _decode_proxy_response(result: Any, *, binary_ok: bool = False) -> Response:
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


class _Server(ThreadingHTTPServer):
    """One thread per connection, with a listen backlog that takes a burst of simultaneous clients."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class _HttpHandler(BaseHTTPRequestHandler):
    """Adapts http.server to `Gateway.handle`; logs one line per request and nothing of its content."""

    gateway: Gateway
    protocol_version = "HTTP/1.1"
    server_version = "postal-local"
    timeout = 60  # idle keep-alive connections must not pin a thread forever

    def _read_body(self) -> tuple[bytes, Response | None]:
        """The request body (Content-Length or chunked), or the gateway's error response for a bad one."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(66).split(b";", 1)[0].strip()
                try:
                    chunk = int(line, 16)
                except ValueError:
                    return b"", error_response(400, "bad_request", "malformed chunked body")
                if chunk == 0:
                    while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                        pass
                    return b"".join(chunks), None
                size += chunk
                if size > MAX_REQUEST_BYTES:
                    return b"", self.gateway._gateway_response("REQUEST_TOO_LARGE")
                chunks.append(self.rfile.read(chunk))
                self.rfile.readline(3)  # the CRLF after each chunk
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():
            return b"", error_response(400, "bad_request", "invalid Content-Length")
        length = int(raw)
        if length > MAX_REQUEST_BYTES:
            return b"", self.gateway._gateway_response("REQUEST_TOO_LARGE")
        return (self.rfile.read(length) if length else b""), None

    def _serve(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        body, problem = self._read_body()
        if problem is not None:
            response = problem
            self.close_connection = True  # an unread or unreadable body must not be parsed as the next request
        else:
            request = Request(
                method=self.command,
                path=url.path,
                query=url.query,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            try:
                response = self.gateway.handle(request)
            except Exception:
                log.error("gateway error on %s %s:\n%s", self.command, url.path, traceback.format_exc())
                response = error_response(500, "internal_error", "local gateway error (see the stack's log)")
        self.send_response(response.status)
        for key, value in response.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        log.info("%s %s %d %dms", self.command, url.path, response.status, (time.monotonic() - started) * 1000)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, PROPFIND, ...) is routed too: 405 on a known path, 404 elsewhere, as JSON."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:  # noqa: ARG002
        """http.server's own errors (malformed request line, oversized headers) in the API's error shape, not
        as an HTML page."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # answer with a status line even when the request line was unreadable
        response = error_response(code, "bad_request" if code < 500 else "internal_error", message or "bad request")
        try:
            self.send_response(code, message)
            for key, value in response.headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(response.body)
        except OSError:
            pass  # the client is gone

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's own access log: `_serve` logs a line without query strings."""


# ------------------------------------------------------------------------------------------------- SQS


class SqsPoller(threading.Thread):
    """One SQS event source mapping: long-poll, invoke, delete the messages that succeeded."""

    def __init__(
        self,
        runtime: LambdaRuntime,
        function: str,
        source: SqsEvent,
        queue_url: str,
        queue_arn: str,
        endpoint_url: str,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"sqs-{source.queue}", daemon=True)
        self.runtime, self.function, self.source = runtime, function, source
        self.queue_url, self.queue_arn, self.stop = queue_url, queue_arn, stop
        self.sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint_url)

    def run(self) -> None:
        """Poll until `stop` is set; errors are logged and retried, never fatal."""
        while not self.stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self.stop.is_set():
                    break
                log.error("%s poller:\n%s", self.source.queue, traceback.format_exc())
                self.stop.wait(1)

    def poll_once(self) -> None:
        """One ReceiveMessage (1 s long poll) and, if anything came, one invocation."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self.runtime.invoke(self.function, event)
        except FunctionError as exc:
            log.error("%s", exc.detail)
            # Nothing is deleted: the messages reappear after the visibility timeout and, after
            # maxReceiveCount receives, moto moves them to the dead-letter queue.
            log.warning("%s failed; %d message(s) will be retried", self.function, len(messages))
            return
        failed = self._failed_ids(result, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if failed:
            log.info(
                "%s: %d of %d message(s) reported as failed, will be retried", self.function, len(failed), len(messages)
            )

    def _failed_ids(self, result: Any, batch: set[str]) -> set[str]:
        """Message ids to keep; Lambda treats an invalid batchItemFailures answer as a whole-batch failure."""
        if not self.source.report_batch_item_failures or not result:
            return set()
        try:
            failed = {str(item["itemIdentifier"]) for item in result.get("batchItemFailures") or []}
        except (AttributeError, KeyError, TypeError):
            failed = batch
        if not failed <= batch:
            log.error("%s reported unknown itemIdentifier(s): the whole batch is retried", self.function)
            return batch
        return failed

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, value in message.get("MessageAttributes", {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])],
                "dataType": value.get("DataType"),
            }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

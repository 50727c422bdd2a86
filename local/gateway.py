"""The local API Gateway: a REST API (v1, Lambda proxy) emulation for the template's functions.

Every `Api` event of the template is a route (local/routes.py); the REQUEST authorizer runs first, with API
Gateway's caching, policy evaluation and context stringification (local/authorizer.py); the event and the proxy
result are shaped as API Gateway shapes them (local/proxy.py), and gateway errors use the template's
GatewayResponses (local/messages.py). The functions run in-process (local/lambda_runtime.py), the HTTP server
is local/http_server.py. Besides the API it serves Swagger UI, the OpenAPI document (local/api_docs.py) and the
local-only endpoints (`GET /local`, `POST /local/schedules/{name}`).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import unquote

from local import api_docs
from local.authorizer import AuthorizerCache
from local.cfn import ScheduleEvent, Template
from local.http_server import HttpHandler, Server
from local.lambda_runtime import FunctionError, LambdaRuntime, PayloadTooLarge
from local.messages import GatewayResponses, Request, Response, error_response, json_response
from local.proxy import Stage, add_body, decode_proxy_response
from local.routes import Route, find_route

log = logging.getLogger("local")

INTEGRATION_TIMEOUT_S = 29  # API Gateway REST integration timeout


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
        self.responses = GatewayResponses(template.gateway_responses())
        self.auth_cache = AuthorizerCache(runtime, self.responses)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (the real port once started with port 0)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Listen and serve in a background thread; returns the base URL."""
        gateway = self

        class Handler(HttpHandler):
            pass

        Handler.gateway = gateway
        self._server = Server(("127.0.0.1", self.port), Handler)
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
            return api_docs.swagger_page()
        if method == "GET" and path.startswith("/docs/static/"):
            return api_docs.swagger_asset(path.removeprefix("/docs/static/"))
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

    # -------------------------------------------------------------- API Gateway emulation

    def _proxy(self, route: Route, path_parameters: dict[str, str], request: Request) -> Response:
        request_id = str(uuid.uuid4())
        stage = Stage(self.api_id, self.stage, self.port)
        event = stage.base_event(route, path_parameters, request, request_id)
        if route.event.authorizer is not None:
            authorizer = self.authorizers[route.event.authorizer]
            auth = self.auth_cache.authorize(authorizer, stage.method_arn(request.method, request.path), event, request)
            if isinstance(auth, Response):
                return auth
            event["requestContext"]["authorizer"] = {
                **auth.context,
                "principalId": auth.principal_id,
                "integrationLatency": 0,
            }
        add_body(event, request.body, binary_type=self.is_binary(request.header("Content-Type") or ""))
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
            return self.responses("INTEGRATION_FAILURE")
        if time.monotonic() - started > INTEGRATION_TIMEOUT_S:
            return self.responses("INTEGRATION_TIMEOUT")
        return self._response(route, request, result, request_id)

    def _response(self, route: Route, request: Request, result: Any, request_id: str) -> Response:
        try:
            first_accept = (request.header("Accept") or "").split(",", 1)[0]
            response = decode_proxy_response(result, binary_ok=self.is_binary(first_accept))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("%s returned a malformed proxy response: %s", route.function, exc)
            return self.responses("INTEGRATION_FAILURE")
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
        return api_docs.openapi_document(self.base_url, self.routes)

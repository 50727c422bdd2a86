"""The local API Gateway, Lambda runtime and SQS event source (local/gateway.py and the modules it
uses: lambda_runtime, routes, authorizer, proxy, http_server, sqs_poller), without sockets or moto servers.

The gateway is built from the real template.yaml (its routes, authorizer, stage and GatewayResponses), but every
function's handler string points at a tiny fake module, so no real handler is imported. Time in those modules is a
fake clock, so authorizer caching and timeouts are tested without sleeping. The HTTP adapter is driven with a fake
socket; only the SQS poller uses moto (in-process `mock_aws`) for a real queue.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

import local.authorizer
import local.gateway
import local.lambda_runtime
import local.proxy
from local.authorizer import AUTH_CACHE_ENTRIES, policy_allows
from local.cfn import ACCOUNT_ID, REGION, ApiEvent, FunctionSpec, SqsEvent, Template, load_template
from local.gateway import INTEGRATION_TIMEOUT_S, Gateway
from local.http_server import MAX_REQUEST_BYTES, HttpHandler
from local.lambda_runtime import LAMBDA_PAYLOAD_BYTES, LambdaRuntime
from local.messages import Request, Response
from local.proxy import decode_proxy_response
from local.routes import Route, find_route
from local.sqs_poller import SqsPoller

FAKE_MODULE = "_gateway_test_handlers"
API_ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:api/dev"  # Api logical id `Api`, stage `dev`
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"

Event = dict[str, Any]
Behaviour = Callable[[Event], Any]


# ------------------------------------------------------------------------------------------------- fakes


class FakeClock:
    """Stands in for the `time` module inside the gateway modules: monotonic and wall clock move only on advance()."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_767_225_600.0 + self.now  # 2026-01-01T00:00:00Z at the start

    def advance(self, seconds: float) -> None:
        self.now += seconds


def allow_whole_api(event: Event) -> dict[str, Any]:
    """What the real authorizer answers: `Bearer <org>` -> org principal, allowed on every route of the stage."""
    token = (event["headers"] or {}).get("Authorization", "").removeprefix("Bearer ")
    return policy(f"p-{token}", [("Allow", "/".join(event["methodArn"].split("/")[:2]) + "/*")], org_id=token)


def policy(principal: str, statements: list[tuple[str, str]], **context: Any) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": e, "Resource": r} for e, r in statements],
        },
        "context": {"org_id": context.pop("org_id", ""), "is_admin": False, **context},
    }


def ok(event: Event) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"ok": True})}


def raising(exc: Exception) -> Behaviour:
    def behaviour(event: Event) -> Any:
        raise exc

    return behaviour


@dataclass
class Fakes:
    """One fake handler per function: records every event, answers with a per-function behaviour."""

    calls: list[tuple[str, Event]] = field(default_factory=list)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)

    def module(self, logical_ids: list[str]) -> ModuleType:
        module = ModuleType(FAKE_MODULE)
        for logical_id in logical_ids:
            setattr(module, logical_id, self._handler(logical_id))
        return module

    def _handler(self, logical_id: str) -> Callable[[Event, Any], Any]:
        def handler(event: Event, context: Any) -> Any:
            self.calls.append((logical_id, event))
            default = allow_whole_api if logical_id == "AuthorizerFunction" else ok
            return self.behaviour.get(logical_id, default)(event)

        return handler

    def events(self, logical_id: str) -> list[Event]:
        return [event for called, event in self.calls if called == logical_id]

    @property
    def invoked(self) -> list[str]:
        return [called for called, _ in self.calls]


@dataclass
class Stack:
    gateway: Gateway
    fakes: Fakes
    clock: FakeClock

    def handle(self, method: str, path: str, **kwargs: Any) -> Response:
        return self.gateway.handle(req(method, path, **kwargs))

    def event(self, logical_id: str) -> Event:
        """The one proxy event a function received."""
        (event,) = self.fakes.events(logical_id)
        return event


def req(
    method: str,
    path: str,
    *,
    query: str = "",
    key: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    source_ip: str = "127.0.0.1",
) -> Request:
    all_headers = [("Host", "127.0.0.1:3000"), *(headers or [])]
    if key is not None:
        all_headers.append(("Authorization", f"Bearer {key}"))
    return Request(method, path, query, all_headers, body, source_ip)


def body_json(response: Response) -> Any:
    return json.loads(response.body)


def header(response: Response, name: str) -> str | None:
    values = [v for k, v in response.headers if k.lower() == name.lower()]
    return values[-1] if values else None


@cache
def _gateway_responses() -> dict[str, Any]:
    return dict(load_template()["Resources"]["Api"]["Properties"]["GatewayResponses"])


def gateway_response_body(kind: str) -> Any:
    """A GatewayResponses body straight from template.yaml (not through local.cfn)."""
    return json.loads(_gateway_responses()[kind]["ResponseTemplates"]["application/json"])


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    for module in (local.gateway, local.authorizer, local.lambda_runtime, local.proxy):
        monkeypatch.setattr(module, "time", fake)
    return fake


def build_stack(
    template: Template, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, functions: list[FunctionSpec] | None = None
) -> Stack:
    fakes = Fakes()
    specs = [replace(s, handler=f"{FAKE_MODULE}.{s.logical_id}") for s in functions or template.functions()]
    monkeypatch.setitem(sys.modules, FAKE_MODULE, fakes.module([s.logical_id for s in specs]))
    return Stack(Gateway(template, LambdaRuntime(specs), port=3000), fakes, clock)


@pytest.fixture(scope="module")
def functions(template: Template) -> list[FunctionSpec]:
    return template.functions()


@pytest.fixture
def stack(
    template: Template, functions: list[FunctionSpec], monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> Stack:
    return build_stack(template, monkeypatch, clock, functions)


# ------------------------------------------------------------------------------------------------- routes


def route(path: str, method: str, function: str) -> Route:
    return Route.of(ApiEvent(name=function, path=path, method=method, authorizer=None), function)


OVERLAPPING = [
    route("/v1/{proxy+}", "ANY", "Proxy"),
    route("/v1/{section}", "GET", "Section"),
    route("/v1/orgs/{org_id}/templates/{template_id}", "GET", "ById"),
    route("/v1/orgs/{org_id}/templates/defaults", "GET", "Defaults"),
    route("/v1/orgs/{org_id}/templates/{template_id}/check", "POST", "Check"),
]


@pytest.mark.parametrize("routes", [OVERLAPPING, OVERLAPPING[::-1]], ids=["declared", "reversed"])
@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/v1/orgs/o1/templates/defaults", "Defaults", {"org_id": "o1"}),  # literal beats {template_id}
        ("GET", "/v1/orgs/o1/templates/t1", "ById", {"org_id": "o1", "template_id": "t1"}),  # beats {proxy+}
        ("POST", "/v1/orgs/o1/templates/t1/check", "Check", {"org_id": "o1", "template_id": "t1"}),
        ("GET", "/v1/orgs", "Section", {"section": "orgs"}),  # as many literals: {section} beats {proxy+}
        ("DELETE", "/v1/anything/at/all", "Proxy", {"proxy": "anything/at/all"}),  # greedy spans segments
    ],
)
def test_most_specific_route_wins_whatever_the_declaration_order(
    routes: list[Route], method: str, path: str, function: str, params: dict[str, str]
) -> None:
    found, path_parameters, known = find_route(routes, method, path)
    assert found is not None
    assert (found.function, path_parameters, known) == (function, params, True)


@pytest.mark.parametrize(
    ("method", "path", "known"),
    [
        ("DELETE", "/v1/orgs/o1/templates/t1", True),  # the resource exists, the method does not
        ("GET", "/v1/orgs/o1/templates/t1/check", True),  # the most specific resource decides: no fall-through
        ("GET", "/v2/orgs", False),
        ("GET", "/v1", False),  # {proxy+} needs at least one character
    ],
)
def test_unmatched_method_or_path(method: str, path: str, known: bool) -> None:
    assert find_route(OVERLAPPING, method, path) == (None, {}, known)


def test_a_path_parameter_is_one_segment_and_percent_decoded() -> None:
    single = [route("/v1/orgs/{org_id}/templates/{template_id}", "GET", "ById")]
    found, params, _ = find_route(single, "GET", "/v1/orgs/acme%20gmbh/templates/a%2Fb")
    assert found is not None
    assert params == {"org_id": "acme gmbh", "template_id": "a/b"}
    assert find_route(single, "GET", "/v1/orgs/acme/templates/a/b") == (None, {}, False)


TEMPLATE = "/v1/orgs/{org_id}/templates/{template_id}"


@pytest.mark.parametrize(
    ("method", "path", "function", "resource"),
    [
        ("POST", "/v1/orgs/o1/templates/t1/check", "TemplateChecksFunction", f"{TEMPLATE}/check"),
        ("POST", "/v1/orgs/o1/templates/t1/pdf", "TemplateChecksFunction", f"{TEMPLATE}/pdf"),
        ("GET", "/v1/orgs/o1/templates/t1", "SettingsApiFunction", TEMPLATE),
        ("PUT", "/v1/orgs/o1/templates/t1", "SettingsApiFunction", TEMPLATE),
        ("GET", "/v1/orgs/o1/templates", "SettingsApiFunction", "/v1/orgs/{org_id}/templates"),
        ("GET", "/v1/orgs/o1", "OrgsApiFunction", "/v1/orgs/{org_id}"),
    ],
)
def test_template_routes_reach_their_function(
    stack: Stack, method: str, path: str, function: str, resource: str
) -> None:
    response = stack.handle(method, path, key="acme")
    assert response.status == 200, response.body
    assert stack.fakes.invoked == ["AuthorizerFunction", function]
    event = stack.event(function)
    assert (event["resource"], event["path"], event["httpMethod"]) == (resource, path, method)
    assert event["pathParameters"]["org_id"] == "o1"


def test_unknown_path_is_a_404_in_the_api_error_shape(stack: Stack) -> None:
    response = stack.handle("GET", "/v1/nothing-here", key="acme")
    assert response.status == 404
    assert header(response, "Content-Type") == "application/json"
    error = body_json(response)["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "not_found"
    assert "/v1/nothing-here" in error["message"]
    assert stack.fakes.calls == []  # neither the authorizer nor any function ran


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/orgs/o1/templates/t1"), ("DELETE", "/v1/health")])
def test_known_path_with_another_method_is_a_405(stack: Stack, method: str, path: str) -> None:
    response = stack.handle(method, path, key="acme")
    assert response.status == 405
    assert body_json(response)["error"]["code"] == "method_not_allowed"
    assert stack.fakes.calls == []


# ------------------------------------------------------------------------------------------------- proxy event


def test_proxy_event_carries_the_request_as_api_gateway_rest_v1_does(stack: Stack) -> None:
    response = stack.handle(
        "GET",
        "/v1/orgs/o1/templates/t1",
        query="tag=a&tag=b&q=hello%20world&empty=",
        key="acme",
        headers=[("Accept", "application/json"), ("Accept", "text/plain"), ("User-Agent", "pytest/1")],
        source_ip="10.1.2.3",
    )
    assert response.status == 200
    event = stack.event("SettingsApiFunction")
    assert event["resource"] == "/v1/orgs/{org_id}/templates/{template_id}"
    assert event["path"] == "/v1/orgs/o1/templates/t1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"org_id": "o1", "template_id": "t1"}
    # The single-value maps hold the last value; the multi-value maps hold all of them, in order.
    assert event["queryStringParameters"] == {"tag": "b", "q": "hello world", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["hello world"], "empty": [""]}
    assert event["headers"]["Accept"] == "text/plain"
    assert event["multiValueHeaders"]["Accept"] == ["application/json", "text/plain"]
    assert event["headers"]["Authorization"] == "Bearer acme"
    assert event["multiValueHeaders"]["User-Agent"] == ["pytest/1"]
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False

    context = event["requestContext"]
    assert context["accountId"] == ACCOUNT_ID
    assert context["apiId"] == "api"
    assert context["stage"] == "dev"
    assert context["resourcePath"] == "/v1/orgs/{org_id}/templates/{template_id}"
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/dev/v1/orgs/o1/templates/t1"
    assert context["identity"] == {"sourceIp": "10.1.2.3", "userAgent": "pytest/1"}
    assert context["requestTimeEpoch"] == int(stack.clock.time() * 1000)
    assert context["requestId"] == header(response, "x-amzn-RequestId")
    assert context["authorizer"] == {
        "org_id": "acme",
        "is_admin": "false",
        "principalId": "p-acme",
        "integrationLatency": 0,
    }


def test_a_request_without_query_or_path_parameters_has_null_maps(stack: Stack) -> None:
    assert stack.handle("GET", "/v1/health").status == 200
    event = stack.event("OrgsApiFunction")
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_public_routes_skip_the_authorizer(stack: Stack) -> None:
    response = stack.handle(
        "POST", "/v1/webhooks/sandbox/o1", body=b"{}", headers=[("Content-Type", "application/json")]
    )
    assert response.status == 200
    assert stack.fakes.invoked == ["WebhooksFunction"]
    event = stack.event("WebhooksFunction")
    assert "authorizer" not in event["requestContext"]
    assert event["pathParameters"] == {"provider": "sandbox", "org_id": "o1"}


@pytest.mark.parametrize(
    ("content_type", "body", "expected_body", "expected_base64"),
    [
        ("application/json", '{"name":"Z\u00fcrich"}'.encode(), '{"name":"Z\u00fcrich"}', False),
        ("text/plain", b"plain", "plain", False),
        ("application/pdf", b"%PDF-1.7\n", "JVBERi0xLjcK", True),  # binary by content type even when it decodes
        ("application/pdf", b"%PDF-1.7\n%\xe2\xe3\n", "JVBERi0xLjcKJeLjCg==", True),
        ("application/octet-stream", b"abc", "YWJj", True),
        ("multipart/form-data; boundary=x", b"--x--", "LS14LS0=", True),
        ("application/json", b"\xff\xfe{}", "//57fQ==", True),  # not UTF-8: passed base64 rather than mangled
        ("application/json", b"", None, False),
        ("application/pdf", b"", None, False),  # no body is never base64
    ],
)
def test_request_bodies_text_or_base64(
    stack: Stack, content_type: str, body: bytes, expected_body: str | None, expected_base64: bool
) -> None:
    stack.handle("POST", "/v1/webhooks/sandbox/o1", headers=[("Content-Type", content_type)], body=body)
    event = stack.event("WebhooksFunction")
    assert (event["body"], event["isBase64Encoded"]) == (expected_body, expected_base64)


def test_every_binary_media_type_of_the_template_is_passed_base64(stack: Stack, template: Template) -> None:
    media_types = [t.replace("~1", "/") for t in template.resources["Api"]["Properties"]["BinaryMediaTypes"]]
    assert media_types
    for media_type in media_types:  # a body that is valid UTF-8: binary because of its type only
        stack.handle("POST", "/v1/webhooks/sandbox/o1", headers=[("Content-Type", media_type)], body=b"abc")
    events = stack.fakes.events("WebhooksFunction")
    assert [(e["body"], e["isBase64Encoded"]) for e in events] == [("YWJj", True)] * len(media_types)


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/zip"])
def test_content_types_outside_the_templates_binary_media_types_are_text(stack: Stack, content_type: str) -> None:
    stack.handle("POST", "/v1/webhooks/sandbox/o1", headers=[("Content-Type", content_type)], body=b"text")
    event = stack.event("WebhooksFunction")
    assert (event["body"], event["isBase64Encoded"]) == ("text", False)


def test_handlers_get_their_own_copy_of_the_event(stack: Stack) -> None:
    def mutate(event: Event) -> Any:
        event["requestContext"]["authorizer"]["org_id"] = "someone-else"
        return ok(event)

    stack.fakes.behaviour["OrgsApiFunction"] = mutate
    stack.handle("GET", "/v1/orgs/o1", key="acme")
    stack.fakes.behaviour.pop("OrgsApiFunction")
    stack.handle("GET", "/v1/orgs/o1", key="acme")  # served from the authorizer cache
    second = stack.fakes.events("OrgsApiFunction")[1]
    assert second["requestContext"]["authorizer"]["org_id"] == "acme"


# ------------------------------------------------------------------------------------------------- authorizer


@pytest.mark.parametrize("headers", [[], [("Authorization", "")]], ids=["absent", "empty"])
def test_no_key_is_a_401_with_the_templates_body_and_no_invocation(
    stack: Stack, headers: list[tuple[str, str]]
) -> None:
    response = stack.handle("GET", "/v1/orgs/o1", headers=headers)
    assert response.status == 401
    assert body_json(response) == gateway_response_body("UNAUTHORIZED")
    assert header(response, "x-amzn-ErrorType") == "UnauthorizedException"
    assert stack.fakes.calls == []  # API Gateway answers without calling the authorizer


def test_authorizer_raising_unauthorized_is_a_401(stack: Stack) -> None:
    stack.fakes.behaviour["AuthorizerFunction"] = raising(Exception("Unauthorized"))
    response = stack.handle("GET", "/v1/orgs/o1", key="wrong")
    assert response.status == 401
    assert body_json(response) == gateway_response_body("UNAUTHORIZED")
    assert stack.fakes.invoked == ["AuthorizerFunction"]


def test_authorizer_crashing_is_a_500_authorizer_failure(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    stack.fakes.behaviour["AuthorizerFunction"] = raising(RuntimeError("secrets manager down"))
    response = stack.handle("GET", "/v1/orgs/o1", key="acme")
    assert response.status == 500
    assert body_json(response) == gateway_response_body("DEFAULT_5XX")
    assert header(response, "x-amzn-ErrorType") == "AuthorizerFailureException"
    assert stack.fakes.invoked == ["AuthorizerFunction"]
    assert "secrets manager down" in caplog.text


def test_only_an_exact_unauthorized_message_is_a_401(stack: Stack) -> None:
    stack.fakes.behaviour["AuthorizerFunction"] = raising(RuntimeError("token store unavailable: Unauthorized"))
    assert stack.handle("GET", "/v1/orgs/o1", key="acme").status == 500


@pytest.mark.parametrize(
    "answer",
    [
        {"principalId": "p", "context": {}},  # no policyDocument
        {"policyDocument": {"Statement": []}},  # no principalId
        policy("p", [("Allow", "*")], nested={"a": 1}),  # API Gateway rejects object context values
        "Allow",
    ],
    ids=["no-policy", "no-principal", "object-context", "not-an-object"],
)
def test_invalid_authorizer_answer_is_a_500_configuration_error(stack: Stack, answer: Any) -> None:
    stack.fakes.behaviour["AuthorizerFunction"] = lambda event: answer
    response = stack.handle("GET", "/v1/orgs/o1", key="acme")
    assert response.status == 500
    assert header(response, "x-amzn-ErrorType") == "AuthorizerConfigurationException"
    assert stack.fakes.invoked == ["AuthorizerFunction"]


def test_authorizer_context_reaches_the_function_as_strings(stack: Stack) -> None:
    context = {"org_id": "o1", "is_admin": True, "suspended": False, "quota": 3, "ratio": 1.5, "note": None}
    stack.fakes.behaviour["AuthorizerFunction"] = lambda event: {
        "principalId": 42,
        "policyDocument": {"Statement": [{"Action": "execute-api:*", "Effect": "Allow", "Resource": "*"}]},
        "context": context,
    }
    assert stack.handle("GET", "/v1/orgs/o1", key="acme").status == 200
    assert stack.event("OrgsApiFunction")["requestContext"]["authorizer"] == {
        "org_id": "o1",
        "is_admin": "true",
        "suspended": "false",
        "quota": "3",
        "ratio": "1.5",
        "note": None,
        "principalId": "42",
        "integrationLatency": 0,
    }


def test_authorizer_gets_a_request_event_with_the_method_arn(stack: Stack) -> None:
    stack.handle("GET", "/v1/orgs/o1", query="x=1", key="acme")
    (auth_event,) = stack.fakes.events("AuthorizerFunction")
    assert auth_event["type"] == "REQUEST"
    assert auth_event["methodArn"] == f"{API_ARN}/GET/v1/orgs/o1"
    assert auth_event["resource"] == "/v1/orgs/{org_id}"
    assert auth_event["headers"]["Authorization"] == "Bearer acme"
    assert auth_event["queryStringParameters"] == {"x": "1"}
    assert auth_event["pathParameters"] == {"org_id": "o1"}
    assert "authorizer" not in auth_event["requestContext"]


def test_authorizer_answer_is_cached_per_key_for_reauthorize_every(stack: Stack, template: Template) -> None:
    ttl = template.resources["Api"]["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]["Identity"]
    ttl = ttl["ReauthorizeEvery"]
    assert ttl == 30

    def authorizer_calls() -> int:
        return len(stack.fakes.events("AuthorizerFunction"))

    assert stack.handle("GET", "/v1/orgs/o1", key="acme").status == 200
    assert stack.handle("POST", "/v1/orgs", key="acme").status == 200  # another route, same key: cached
    assert stack.handle("GET", "/v1/orgs/o1", headers=[("authorization", "Bearer acme")]).status == 200
    assert authorizer_calls() == 1
    stack.clock.advance(ttl - 1)
    assert stack.handle("GET", "/v1/orgs/o1", key="acme").status == 200
    assert authorizer_calls() == 1
    assert stack.handle("GET", "/v1/orgs/o1", key="other").status == 200  # another key: its own entry
    assert authorizer_calls() == 2
    stack.clock.advance(2)  # ttl + 1 after the first answer
    assert stack.handle("GET", "/v1/orgs/o1", key="acme").status == 200
    assert authorizer_calls() == 3
    assert len(stack.fakes.events("OrgsApiFunction")) == 6


def test_reauthorize_every_zero_disables_the_cache(stack: Stack) -> None:
    authorizer = stack.gateway.authorizers["ApiKeyAuthorizer"]
    stack.gateway.authorizers["ApiKeyAuthorizer"] = replace(authorizer, ttl_seconds=0)
    for _ in range(3):
        assert stack.handle("GET", "/v1/orgs/o1", key="acme").status == 200
    assert len(stack.fakes.events("AuthorizerFunction")) == 3


def test_unauthorized_answers_are_not_cached(stack: Stack) -> None:
    stack.fakes.behaviour["AuthorizerFunction"] = raising(Exception("Unauthorized"))
    assert stack.handle("GET", "/v1/orgs/o1", key="new").status == 401
    stack.fakes.behaviour.pop("AuthorizerFunction")  # e.g. the key was just created
    assert stack.handle("GET", "/v1/orgs/o1", key="new").status == 200


def test_cached_policy_is_evaluated_against_each_method_arn(stack: Stack) -> None:
    # An authorizer that allows only the method it was asked about: API Gateway caches that policy per key,
    # so the next route with the same key is denied (ACCESS_DENIED, which the template answers with 401).
    stack.fakes.behaviour["AuthorizerFunction"] = lambda event: policy("p", [("Allow", event["methodArn"])])
    assert stack.handle("GET", "/v1/orgs/o1", key="acme").status == 200
    response = stack.handle("POST", "/v1/orgs", key="acme")
    assert response.status == 401
    assert body_json(response) == gateway_response_body("ACCESS_DENIED")
    assert header(response, "x-amzn-ErrorType") == "AccessDeniedException"
    assert stack.fakes.invoked == ["AuthorizerFunction", "OrgsApiFunction"]


def test_explicit_deny_wins_over_allow(stack: Stack) -> None:
    stack.fakes.behaviour["AuthorizerFunction"] = lambda event: policy(
        "p", [("Allow", f"{API_ARN}/*"), ("Deny", f"{API_ARN}/*/v1/orgs/o1")]
    )
    response = stack.handle("GET", "/v1/orgs/o1", key="acme")
    assert response.status == 401
    assert header(response, "x-amzn-ErrorType") == "AccessDeniedException"
    assert stack.fakes.invoked == ["AuthorizerFunction"]


ARN = f"{API_ARN}/GET/v1/orgs/o1"


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([], False),
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}], True),
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{API_ARN}/*"}], True),
        ([{"Effect": "Allow", "Action": ["s3:GetObject", "execute-api:*"], "Resource": ["x", "*"]}], True),
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{API_ARN}/???/v1/orgs/o1"}], True),
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{API_ARN}/POST/*"}], False),
        ([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{API_ARN}/GET/v1/orgs"}], False),
        ([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}], False),
        (
            [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
                {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"{API_ARN}/GET/*"},
            ],
            False,
        ),
        (
            [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
                {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"{API_ARN}/POST/*"},
            ],
            True,
        ),
    ],
)
def test_policy_evaluation(statements: list[dict[str, Any]], allowed: bool) -> None:
    assert policy_allows(tuple(statements), ARN) is allowed


# ------------------------------------------------------------------------------------------------- responses


def test_proxy_result_decoding_headers_and_defaults() -> None:
    response = decode_proxy_response(
        {
            "statusCode": 201,
            "headers": {"Location": "/v1/orgs/o1", "X-Count": 3, "Set-Cookie": "dropped=1", "Content-Length": "999"},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "X-Multi": ["x", "y"], "Connection": ["close"]},
            "body": '{"id": "o1"}',
        }
    )
    assert response.status == 201
    assert response.body == b'{"id": "o1"}'
    # multiValueHeaders win for a name they contain; hop-by-hop headers are the server's; JSON is the default type.
    assert sorted((k.lower(), v) for k, v in response.headers) == [
        ("content-type", "application/json"),
        ("location", "/v1/orgs/o1"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("x-count", "3"),
        ("x-multi", "x"),
        ("x-multi", "y"),
    ]


def test_proxy_result_with_base64_body_and_no_body() -> None:
    encoded = base64.b64encode(PNG).decode()
    binary = decode_proxy_response(
        {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": encoded, "isBase64Encoded": True},
        binary_ok=True,
    )
    assert (binary.body, binary.headers) == (PNG, [("Content-Type", "image/png")])
    empty = decode_proxy_response({"statusCode": 204})
    assert (empty.status, empty.body) == (204, b"")


def test_function_response_is_written_back_with_a_request_id(stack: Stack) -> None:
    stack.fakes.behaviour["SettingsApiFunction"] = lambda event: {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png", "Cache-Control": "no-store"},
        "multiValueHeaders": {"Vary": ["Accept", "Authorization"]},
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }
    response = stack.handle("GET", "/v1/orgs/o1/templates/t1", key="acme", headers=[("Accept", "image/png")])
    assert (response.status, response.body) == (200, PNG)
    assert header(response, "Content-Type") == "image/png"
    assert header(response, "Cache-Control") == "no-store"
    assert [v for k, v in response.headers if k.lower() == "vary"] == ["Accept", "Authorization"]
    request_id = header(response, "x-amzn-RequestId")
    assert request_id == stack.event("SettingsApiFunction")["requestContext"]["requestId"]


def test_binary_response_stays_base64_text_when_accept_is_not_binary(stack: Stack) -> None:
    encoded = base64.b64encode(PNG).decode()
    stack.fakes.behaviour["SettingsApiFunction"] = lambda event: {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": encoded,
        "isBase64Encoded": True,
    }
    response = stack.handle("GET", "/v1/orgs/o1/templates/t1", key="acme", headers=[("Accept", "application/json")])
    assert response.body == encoded.encode()


def test_handler_exception_is_a_502_with_the_templates_default_5xx_body(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.fakes.behaviour["OrgsApiFunction"] = raising(RuntimeError("boom"))
    response = stack.handle("GET", "/v1/health")
    assert response.status == 502
    assert body_json(response) == gateway_response_body("DEFAULT_5XX")  # the Api customises DEFAULT_5XX
    assert header(response, "x-amzn-ErrorType") == "InternalServerErrorException"
    assert "OrgsApiFunction raised" in caplog.text
    assert "RuntimeError: boom" in caplog.text


def test_handler_exception_without_gateway_responses_is_api_gateways_internal_server_error(
    template: Template, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    doc = copy.deepcopy(template.doc)
    del doc["Resources"]["Api"]["Properties"]["GatewayResponses"]
    bare = build_stack(Template(doc), monkeypatch, clock)
    bare.fakes.behaviour["OrgsApiFunction"] = raising(RuntimeError("boom"))
    response = bare.handle("GET", "/v1/health")
    assert response.status == 502
    assert body_json(response) == {"message": "Internal server error"}
    # ... and the built-in 401 when the template does not override UNAUTHORIZED.
    assert body_json(bare.handle("GET", "/v1/orgs/o1")) == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    "result",
    [
        "ok",  # not an object
        {"body": "{}"},  # no statusCode
        {"statusCode": 200, "body": {"ok": True}},  # body not a string
        {"statusCode": 200, "body": "abc", "isBase64Encoded": True},  # not base64
        {"statusCode": Decimal(200), "body": "{}"},  # not JSON serialisable: Runtime.MarshalError
    ],
    ids=["string", "no-status", "object-body", "bad-base64", "decimal"],
)
def test_malformed_proxy_result_is_a_502(stack: Stack, result: Any) -> None:
    stack.fakes.behaviour["OrgsApiFunction"] = lambda event: result
    # A binary Accept type makes the gateway decode base64 bodies, so malformed base64 is detected.
    response = stack.handle("GET", "/v1/health", headers=[("Accept", "image/png")])
    assert response.status == 502
    assert header(response, "x-amzn-ErrorType") == "InternalServerErrorException"


def test_function_running_past_its_timeout_is_a_502(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    timeout = stack.gateway.runtime.functions["OrgsApiFunction"].timeout
    assert timeout == 15  # Globals.Function.Timeout

    def slow(event: Event) -> Any:
        stack.clock.advance(timeout + 1)
        return ok(event)

    stack.fakes.behaviour["OrgsApiFunction"] = slow
    assert stack.handle("GET", "/v1/health").status == 502
    assert "over its Timeout of 15 s" in caplog.text


def test_function_running_past_29_seconds_is_a_504(stack: Stack) -> None:
    runtime = stack.gateway.runtime
    runtime.functions["OrgsApiFunction"] = replace(runtime.functions["OrgsApiFunction"], timeout=60)

    def slow(event: Event) -> Any:
        stack.clock.advance(INTEGRATION_TIMEOUT_S + 1)
        return ok(event)

    stack.fakes.behaviour["OrgsApiFunction"] = slow
    response = stack.handle("GET", "/v1/health")
    assert response.status == 504
    assert header(response, "x-amzn-ErrorType") == "IntegrationTimeoutException"


def test_schedule_fires_its_function_with_the_templates_input(stack: Stack) -> None:
    response = stack.handle("POST", "/local/schedules/nightly-collection")
    assert response.status == 200
    assert stack.fakes.events("CollectionFunction") == [{"job": "nightly-collection", "fan_out": True}]
    assert body_json(response)["function"] == "CollectionFunction"
    assert stack.handle("GET", "/local/schedules/nightly-collection").status == 405


# ------------------------------------------------------------------------------------------------- HTTP adapter


class FakeSocket:
    """Just enough socket for http.server's StreamRequestHandler: request bytes in, response bytes out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = bytearray()

    def settimeout(self, timeout: float | None) -> None:
        pass

    def makefile(self, mode: str, buffering: int = -1) -> io.BytesIO:
        return io.BytesIO(self.data)

    def sendall(self, data: bytes) -> None:
        self.sent += data


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes
    trailing: bytes  # anything written after the first response


def serve_http(gateway: Gateway, raw: bytes) -> RawReply:
    """Run the gateway's HTTP handler on one connection carrying `raw`, then parse the first response."""

    class Handler(HttpHandler):
        pass

    Handler.gateway = gateway
    sock = FakeSocket(raw)
    Handler(sock, ("127.0.0.1", 50000), None)  # type: ignore[arg-type]
    head, _, rest = bytes(sock.sent).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    length = int(headers.get("content-length", "0"))
    return RawReply(int(status_line.split()[1]), headers, rest[:length], rest[length:])


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1:3000", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_http_adapter_serves_one_request(stack: Stack) -> None:
    body = b'{"event": "delivered"}'
    raw = http_request(
        "POST",
        "/v1/webhooks/sandbox/o1?x=1",
        {"Content-Type": "application/json", "Content-Length": str(len(body))},
        body,
    )
    reply = serve_http(stack.gateway, raw)
    assert (reply.status, json.loads(reply.body), reply.trailing) == (200, {"ok": True}, b"")
    assert reply.headers["content-length"] == str(len(reply.body))
    event = stack.event("WebhooksFunction")
    assert (event["body"], event["queryStringParameters"], event["path"]) == (
        body.decode(),
        {"x": "1"},
        "/v1/webhooks/sandbox/o1",
    )
    assert reply.headers["x-amzn-requestid"] == event["requestContext"]["requestId"]


def test_http_adapter_refuses_bodies_over_10_mb_with_a_413(stack: Stack) -> None:
    raw = http_request(
        "POST", "/v1/webhooks/sandbox/o1", {"Content-Length": str(MAX_REQUEST_BYTES + 1)}, b"GET / HTTP/1.1\r\n\r\n"
    )
    reply = serve_http(stack.gateway, raw)
    assert reply.status == 413
    assert json.loads(reply.body) == gateway_response_body("REQUEST_TOO_LARGE")
    assert reply.headers["x-amzn-errortype"] == "RequestTooLargeException"
    assert reply.trailing == b""  # the connection is closed: the unread body is not parsed as a request
    assert stack.fakes.calls == []


def test_http_adapter_accepts_a_body_of_exactly_10_mb_and_lambda_refuses_its_event(stack: Stack) -> None:
    body = b"a" * MAX_REQUEST_BYTES
    reply = serve_http(
        stack.gateway, http_request("POST", "/v1/webhooks/sandbox/o1", {"Content-Length": str(len(body))}, body)
    )
    # The gateway reads it (10 MB is API Gateway's limit); the event is over the 6 MB a Lambda invocation takes,
    # so the function never runs and the answer names the way round it (the letter upload).
    assert reply.status == 413
    error = json.loads(reply.body)["error"]
    assert error["code"] == "payload_too_large" and "upload" in error["details"]["fix"]
    assert stack.fakes.events("WebhooksFunction") == []


def test_an_event_just_under_six_mb_reaches_the_function(stack: Stack) -> None:
    body = b"a" * (LAMBDA_PAYLOAD_BYTES - 64 * 1024)
    reply = serve_http(
        stack.gateway, http_request("POST", "/v1/webhooks/sandbox/o1", {"Content-Length": str(len(body))}, body)
    )
    assert reply.status == 200
    assert len(stack.event("WebhooksFunction")["body"]) == len(body)


def test_http_adapter_turns_a_gateway_crash_into_a_500(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(request: Request) -> Response:
        raise RuntimeError("bug in the gateway")

    monkeypatch.setattr(stack.gateway, "handle", crash)
    reply = serve_http(stack.gateway, http_request("GET", "/v1/health", {}))
    assert reply.status == 500
    assert json.loads(reply.body)["error"]["code"] == "internal_error"


def test_http_adapter_chunked_body_is_read_or_refused(stack: Stack) -> None:
    raw = http_request(
        "POST", "/v1/webhooks/sandbox/o1", {"Transfer-Encoding": "chunked"}, b'7\r\n{"a":1}\r\n0\r\n\r\n'
    )
    reply = serve_http(stack.gateway, raw)
    bodies = [event["body"] for event in stack.fakes.events("WebhooksFunction")]
    assert (reply.status == 200 and bodies == ['{"a":1}']) or (reply.status == 411 and bodies == [])
    assert reply.trailing == b""


@pytest.mark.parametrize("length", ["abc", "-1"])
def test_http_adapter_invalid_content_length_is_a_400(stack: Stack, length: str) -> None:
    reply = serve_http(
        stack.gateway, http_request("POST", "/v1/webhooks/sandbox/o1", {"Content-Length": length}, b"{}")
    )
    assert reply.status == 400
    assert stack.fakes.calls == []


# ------------------------------------------------------------------------------------------------- SQS poller


def sqs_function(
    source: SqsEvent, handler: Callable[[Event, Any], Any], monkeypatch: pytest.MonkeyPatch
) -> LambdaRuntime:
    module = ModuleType(FAKE_MODULE)
    module.Consumer = handler  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, FAKE_MODULE, module)
    spec = FunctionSpec(
        logical_id="Consumer",
        name="postal-local-Consumer",
        handler=f"{FAKE_MODULE}.Consumer",
        environment={},
        timeout=30,
        memory=128,
        properties={},
        api=(),
        sqs=(source,),
        schedules=(),
    )
    return LambdaRuntime([spec])


@dataclass
class Queue:
    client: Any
    url: str
    arn: str

    def send(self, *bodies: str) -> None:
        for body in bodies:
            self.client.send_message(
                QueueUrl=self.url,
                MessageBody=body,
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": "letter"},
                    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
                },
            )

    def remaining(self) -> list[str]:
        messages = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return sorted(m["Body"] for m in messages.get("Messages", []))

    def poller(self, runtime: LambdaRuntime, source: SqsEvent) -> SqsPoller:
        endpoint = f"https://sqs.{REGION}.amazonaws.com"  # intercepted by mock_aws
        return SqsPoller(runtime, "Consumer", source, self.url, self.arn, endpoint, threading.Event())


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queue]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("sqs", region_name=REGION)
        # VisibilityTimeout 0: what the poller does not delete is visible again at once, for remaining().
        url = client.create_queue(QueueName="gateway-test", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        yield Queue(client, url, arn)


def fail_bodies(*bodies: str) -> Callable[[Event, Any], Any]:
    def handler(event: Event, context: Any) -> Any:
        failed = [r["messageId"] for r in event["Records"] if r["body"] in bodies]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    return handler


def test_partial_batch_failure_deletes_only_the_successful_messages(
    queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = SqsEvent(name="Letters", queue="Queue", batch_size=10, report_batch_item_failures=True)
    batches: list[Event] = []

    def handler(event: Event, context: Any) -> Any:
        batches.append(event)
        return fail_bodies("b")(event, context)

    queue.send("a", "b", "c")
    queue.poller(sqs_function(source, handler, monkeypatch), source).poll_once()
    assert queue.remaining() == ["b"]
    (batch,) = batches
    assert sorted(r["body"] for r in batch["Records"]) == ["a", "b", "c"]
    record = batch["Records"][0]
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", queue.arn, REGION)
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "letter"
    assert record["messageAttributes"]["blob"]["binaryValue"] == base64.b64encode(b"\x00\x01").decode()


def test_without_report_batch_item_failures_a_returned_failure_list_is_ignored(
    queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = SqsEvent(name="Letters", queue="Queue", batch_size=10, report_batch_item_failures=False)
    queue.send("a", "b")
    queue.poller(sqs_function(source, fail_bodies("b"), monkeypatch), source).poll_once()
    assert queue.remaining() == []


def crash(event: Event, context: Any) -> Any:
    raise RuntimeError("crash")


@pytest.mark.parametrize(
    "handler",
    [
        crash,
        lambda event, context: {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        lambda event, context: {"batchItemFailures": [{"id": "missing-itemIdentifier"}]},
    ],
    ids=["function-error", "unknown-item", "malformed-item"],
)
def test_whole_batch_is_retried_when_the_invocation_or_its_answer_fails(
    queue: Queue, monkeypatch: pytest.MonkeyPatch, handler: Callable[[Event, Any], Any]
) -> None:
    source = SqsEvent(name="Letters", queue="Queue", batch_size=10, report_batch_item_failures=True)
    queue.send("a", "b")
    queue.poller(sqs_function(source, handler, monkeypatch), source).poll_once()
    assert queue.remaining() == ["a", "b"]


def test_batch_size_limits_the_receive(queue: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    source = SqsEvent(name="Pages", queue="Queue", batch_size=1, report_batch_item_failures=True)
    sizes: list[int] = []

    def handler(event: Event, context: Any) -> Any:
        sizes.append(len(event["Records"]))
        return {}

    queue.send("a", "b", "c")
    poller = queue.poller(sqs_function(source, handler, monkeypatch), source)
    poller.poll_once()
    assert sizes == [1]
    assert len(queue.remaining()) == 2


# ------------------------------------------------------------------------------------------------- hostile clients


@pytest.mark.parametrize(
    ("method", "status", "code"), [("TRACE", 405, "method_not_allowed"), ("PROPFIND", 405, "method_not_allowed")]
)
def test_unknown_http_methods_get_a_json_error_not_an_html_page(
    stack: Stack, method: str, status: int, code: str
) -> None:
    reply = serve_http(stack.gateway, http_request(method, "/v1/health", {}))
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    assert json.loads(reply.body)["error"]["code"] == code


def test_a_malformed_request_line_gets_a_json_400(stack: Stack) -> None:
    reply = serve_http(stack.gateway, b"GET /v1/health HTTP/1.1 extra\r\n\r\n")
    assert reply.status == 400
    assert set(json.loads(reply.body)["error"]) == {"code", "message", "details"}


def test_the_authorizer_cache_stays_bounded_under_a_flood_of_distinct_keys(stack: Stack) -> None:
    for i in range(AUTH_CACHE_ENTRIES + 500):
        assert stack.handle("GET", "/v1/orgs/o1", key=f"key-{i}").status == 200
    assert len(stack.gateway.auth_cache.entries) == AUTH_CACHE_ENTRIES
    calls = len(stack.fakes.events("AuthorizerFunction"))
    stack.handle("GET", "/v1/orgs/o1", key=f"key-{AUTH_CACHE_ENTRIES + 499}")  # the newest is still cached
    assert len(stack.fakes.events("AuthorizerFunction")) == calls


def test_the_gateway_accepts_fifty_simultaneous_connections(stack: Stack) -> None:
    import socket

    stack.gateway.port = 0
    stack.gateway.start()
    try:
        sockets = [socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=10) for _ in range(50)]
        for sock in sockets:  # all connected before any is served: the listen backlog holds them
            sock.sendall(http_request("GET", "/v1/health", {"Connection": "close"}))
        replies = []
        for sock in sockets:
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            sock.close()
            replies.append(int(data.split(b" ", 2)[1]))
    finally:
        stack.gateway.stop()
    assert replies == [200] * 50

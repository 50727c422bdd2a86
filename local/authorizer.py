"""The Api's Lambda REQUEST authorizer as API Gateway runs it: identity sources checked first, answers cached per
identity for the authorizer's TTL (bounded), the policy evaluated for every method ARN, and the context handed
on as strings."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from local.cfn import Authorizer
from local.lambda_runtime import FunctionError, LambdaRuntime
from local.messages import GatewayResponses, Request, Response

log = logging.getLogger("local")

AUTH_CACHE_ENTRIES = 1000  # authorizer answers kept at most (API Gateway's cache is bounded too)


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


class AuthorizerCache:
    """Invokes the authorizers and keeps their answers, as API Gateway does for `ReauthorizeEvery` seconds."""

    def __init__(self, runtime: LambdaRuntime, responses: GatewayResponses) -> None:
        self.runtime = runtime
        self.responses = responses
        self.entries: dict[tuple[str, ...], AuthResult] = {}
        self._lock = threading.Lock()

    def authorize(
        self, authorizer: Authorizer, method_arn: str, event: dict[str, Any], request: Request
    ) -> AuthResult | Response:
        """The (cached) answer allowing `method_arn`, or the gateway response that refuses the request."""
        identity = tuple(request.header(h) or "" for h in authorizer.identity_headers)
        if not all(identity):  # API Gateway answers 401 without invoking the authorizer
            return self.responses("UNAUTHORIZED")
        key = (authorizer.name, *identity)
        with self._lock:
            cached = self.entries.get(key)
        if cached is None or cached.expires < time.monotonic():
            answer = self._invoke(authorizer, method_arn, event)
            if isinstance(answer, Response):
                return answer
            cached = answer
            if authorizer.ttl_seconds > 0:
                with self._lock:
                    self._remember(key, cached)
        if not policy_allows(cached.statements, method_arn):
            return self.responses("ACCESS_DENIED")
        return cached

    def _invoke(self, authorizer: Authorizer, method_arn: str, event: dict[str, Any]) -> AuthResult | Response:
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
                return self.responses("UNAUTHORIZED")
            log.error("%s", exc.detail)
            return self.responses("AUTHORIZER_FAILURE")
        try:
            return AuthResult(
                principal_id=str(result["principalId"]),
                statements=tuple(result["policyDocument"]["Statement"]),
                context=_stringify_context(result.get("context") or {}),
                expires=time.monotonic() + authorizer.ttl_seconds,
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.error("authorizer %s returned an invalid response: %s", authorizer.name, exc)
            return self.responses("AUTHORIZER_CONFIGURATION_ERROR")

    def _remember(self, key: tuple[str, ...], result: AuthResult) -> None:
        """Cache an authorizer answer; expired answers are dropped and the cache is bounded (every distinct
        Authorization header of a hostile client would otherwise stay in memory for the life of the stack)."""
        now = time.monotonic()
        if len(self.entries) >= AUTH_CACHE_ENTRIES:
            for stale in [k for k, v in self.entries.items() if v.expires < now]:
                del self.entries[stale]
            while len(self.entries) >= AUTH_CACHE_ENTRIES:
                del self.entries[next(iter(self.entries))]  # the oldest (dicts keep insertion order)
        self.entries[key] = result

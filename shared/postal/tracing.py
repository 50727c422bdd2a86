"""The tracer every handler decorates with, imported only when tracing subsegments are on.

Powertools' `Tracer()` imports the X-Ray SDK even when tracing is disabled (~230 ms of every cold start). Lambda's
active tracing (`Tracing: Active`) records the invocation segment without it; the Powertools subsegments
(`## lambda_handler`, cold start annotation, patched boto3/httpx calls) only come when
`POWERTOOLS_TRACE_DISABLED` is false (template parameter `TraceSubsegments`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_TRUTHY = {"1", "true", "yes", "on"}


class HandlerTracer(Protocol):
    def capture_lambda_handler(self, lambda_handler: F) -> F: ...

    def capture_method(self, method: F) -> F: ...


class _Untraced:
    """Decorators that return the function unchanged."""

    def capture_lambda_handler(self, lambda_handler: F) -> F:
        return lambda_handler

    def capture_method(self, method: F) -> F:
        return method


def tracing_on(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Subsegments are on unless `POWERTOOLS_TRACE_DISABLED` says otherwise (Powertools' own switch)."""
    return env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in _TRUTHY


def get_tracer() -> HandlerTracer:
    """Powertools' Tracer when tracing is on, else decorators that do nothing (and import nothing)."""
    if not tracing_on():
        return _Untraced()
    from aws_lambda_powertools import Tracer

    # Powertools' decorators also take options (capture_response, ...); ours only use the plain form.
    return cast("HandlerTracer", Tracer())

"""Run the template's functions in-process the way AWS Lambda would call them.

`LambdaRuntime` imports handlers by their handler string and invokes them with a Lambda-like context; like
Lambda, events and results must survive a JSON round trip and a run longer than the function's Timeout fails.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.cfn import ACCOUNT_ID, REGION, FunctionSpec

LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024  # synchronous invoke limit, request and response


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

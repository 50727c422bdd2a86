"""The one way adapters talk HTTP: an httpx client with timeouts, a small retry budget (stamina), and the checks
every adapter makes on its provider's answers (`HttpAdapter`).

Retry policy (why it looks like this):
- A small budget (3 attempts, jittered exponential backoff from 250 ms): the SQS queue and its DLQ are the real
  retry layer; retrying for long inside a Lambda only burns its timeout.
- Retried: 408, 425, 429, 5xx, timeouts and connection errors, but only where a repeat cannot mail twice:
  reads, idempotent verbs (PUT/DELETE), and mutations that carry an idempotency key (`safe=True`).
  For a mutation without a key (`safe=False`) we retry only what the provider certainly never processed:
  a connection that was never established, or a 429 (rejected before processing). Everything ambiguous (5xx,
  read timeout, dropped connection) raises at once with `details["ambiguous"] = True`, so that the adapter looks
  the letter up by reference before it tries again.
- `Retry-After` is honoured up to `retry_after_cap`; a longer wait is not slept in-process but handed to the queue
  layer as `ProviderError.retry_after`.
- Only the method, host, path, status and the provider's `X-Request-ID` are logged: never headers (credentials),
  bodies or query strings (addresses, presigned signatures).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import stamina

from postal.codes import Code
from postal.errors import ProviderError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Errors raised before a single byte of the request reached the provider: always safe to repeat.
_NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
TRANSIENT_FIX = "Nothing to do: the request is retried with backoff, then redriven from the dead-letter queue."


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one adapter call tries before it hands the fault to the queue layer."""

    attempts: int = 3
    wait_initial: float = 0.25
    wait_max: float = 10.0
    wait_jitter: float = 0.25
    retry_after_cap: float = 10.0
    total_timeout: float = 25.0


def build_client(
    *, transport: httpx.BaseTransport | None = None, timeout: httpx.Timeout = DEFAULT_TIMEOUT
) -> httpx.Client:
    """A shared httpx client for every adapter (one per Lambda container, reused across invocations)."""
    return httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def request_id(response: httpx.Response) -> str | None:
    """The provider's request id, for logs and error details."""
    return response.headers.get("x-request-id")


class _RetryableFault(Exception):
    """One failed attempt that may be repeated (internal to `ProviderHttp.request`)."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        request_id: str | None = None,
        ambiguous: bool = False,
    ):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status
        self.request_id = request_id
        self.ambiguous = ambiguous


class ProviderHttp:
    """Sends one provider's requests through the retry policy and maps exhausted faults to `ProviderError`."""

    def __init__(self, client: httpx.Client, provider: str, policy: RetryPolicy | None = None):
        self.client = client
        self.provider = provider
        self.policy = policy or RetryPolicy()

    def request(self, method: str, url: str, *, safe: bool, **kwargs: Any) -> httpx.Response:
        """Send with retries; return any final response that is not a transient fault (the adapter maps 4xx).

        `safe`: repeating this exact request cannot create a second letter (read, PUT/DELETE, idempotency key).
        Raises `ProviderError(provider_unavailable, retryable=True)` once the budget is spent.
        """
        policy = self.policy
        last: _RetryableFault | None = None

        def backoff(exc: Exception) -> bool | float:
            # stamina backoff hook: True = retry with exponential backoff; a float = wait exactly that long.
            if not isinstance(exc, _RetryableFault):
                return False
            if exc.ambiguous and not safe:
                return False
            if exc.retry_after is not None:
                if exc.retry_after > policy.retry_after_cap:
                    return False
                return exc.retry_after
            return True

        try:
            for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=policy.total_timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    try:
                        return self._send_once(method, url, attempt.num, **kwargs)
                    except _RetryableFault as fault:
                        last = fault
                        raise
        except _RetryableFault as fault:
            last = fault
        assert last is not None  # the loop either returns or ends with a fault
        raise self._unavailable(last)

    def _send_once(self, method: str, url: str, attempt: int, **kwargs: Any) -> httpx.Response:
        target = httpx.URL(url)
        where = f"{method} {target.host}{target.path}"
        try:
            response = self.client.request(method, url, **kwargs)
        except _NOT_SENT_ERRORS as exc:
            logger.warning("%s %s: not sent (%s), attempt %d", self.provider, where, type(exc).__name__, attempt)
            raise _RetryableFault(f"connection failed: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            logger.warning("%s %s: no answer (%s), attempt %d", self.provider, where, type(exc).__name__, attempt)
            raise _RetryableFault(f"no answer: {type(exc).__name__}", ambiguous=True) from exc
        rid = request_id(response)
        logger.info("%s %s -> %d request_id=%s attempt=%d", self.provider, where, response.status_code, rid, attempt)
        if response.status_code in RETRYABLE_STATUSES:
            response.read()
            # 429 means "not processed"; 5xx may have been processed before it failed.
            raise _RetryableFault(
                f"HTTP {response.status_code}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                status=response.status_code,
                request_id=rid,
                ambiguous=response.status_code != 429,
            )
        return response

    def _unavailable(self, fault: _RetryableFault) -> ProviderError:
        return ProviderError(
            Code.PROVIDER_UNAVAILABLE,
            f"{self.provider} is unavailable ({fault.reason}).",
            fix=TRANSIENT_FIX,
            retryable=True,
            retry_after=fault.retry_after,
            details={
                "provider": self.provider,
                "status": fault.status,
                "request_id": fault.request_id,
                "ambiguous": fault.ambiguous,
            },
        )


def error_details(provider: str, response: httpx.Response, **extra: Any) -> dict[str, Any]:
    """The `details` of an error mapped from a provider's response: provider, HTTP status, request id, then `extra`."""
    return {"provider": provider, "status": response.status_code, "request_id": request_id(response), **extra}


def credentials_rejected(provider: str, response: httpx.Response, message: str) -> ProviderError:
    """401/403 from a provider: not transient, the org must reconnect with valid credentials."""
    return ProviderError(
        Code.PROVIDER_UNAVAILABLE,
        message,
        fix=f"Reconnect the {provider} integration with valid credentials.",
        retryable=False,
        details=error_details(provider, response, reason="credentials_rejected"),
    )


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object; `{}` when it is empty or not JSON (error bodies vary)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"data": body}


def is_ambiguous(error: ProviderError) -> bool:
    """True when a mutation may or may not have been applied (look it up before repeating it)."""
    return bool(error.details.get("ambiguous"))


class HttpAdapter:
    """What every adapter does with its provider's answers: map a refusal with its own `_error`, and check a status
    with `_expect` or the credentials with `_authorised`."""

    name: str

    def _error(self, response: httpx.Response) -> ProviderError:
        """The provider's refusal (its own error body) as a canonical `ProviderError`."""
        raise NotImplementedError

    def _expect(self, response: httpx.Response, *statuses: int) -> httpx.Response:
        """`response` when its status is one of `statuses`; otherwise `_error(response)` is raised."""
        if response.status_code not in statuses:
            raise self._error(response)
        return response

    def _authorised(self, response: httpx.Response, refused: str) -> httpx.Response:
        """`response`, unless it is a 401/403: then `credentials_rejected` is raised as "<refused> (HTTP <status>)."."""
        if response.status_code in (401, 403):
            raise credentials_rejected(self.name, response, f"{refused} (HTTP {response.status_code}).")
        return response

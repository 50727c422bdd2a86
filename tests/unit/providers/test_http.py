"""The shared HTTP layer: Retry-After parsing, safe vs unsafe retries, and what is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from postal.providers.base import ProviderError
from postal.providers.http import ProviderHttp, is_ambiguous, parse_retry_after


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(when) or 0) <= 31


def _http(statuses: list[int]) -> tuple[ProviderHttp, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses.pop(0) if statuses else 200, headers={"X-Request-ID": "rid-1"})

    return ProviderHttp(httpx.Client(transport=httpx.MockTransport(handler)), "test"), seen


def test_unsafe_mutation_is_not_repeated_after_5xx() -> None:
    http, seen = _http([500, 500])
    with pytest.raises(ProviderError) as exc:
        http.request("POST", "https://p.test/letters", safe=False)
    assert len(seen) == 1
    assert exc.value.retryable
    assert is_ambiguous(exc.value)


def test_safe_request_is_repeated_after_5xx() -> None:
    http, seen = _http([502, 503])
    assert http.request("GET", "https://p.test/letters/1", safe=True).status_code == 200
    assert len(seen) == 3


def test_logs_carry_request_id_but_no_query_or_headers(caplog: pytest.LogCaptureFixture) -> None:
    http, _ = _http([])
    with caplog.at_level(logging.INFO, logger="postal.providers.http"):
        http.request(
            "GET", "https://p.test/letters?search=Anna+Muster", safe=True, headers={"x-api-key": "live_secret_key"}
        )
    text = caplog.text
    assert "rid-1" in text
    assert "Anna" not in text
    assert "live_secret_key" not in text

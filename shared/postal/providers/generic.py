"""Generic HTTP provider: our own documented contract (docs/generic-provider.md, providers.md §5.1).

Any print house can implement it. Both directions are signed with `Postal-Signature: t=<unix s>,v1=<hex
HMAC-SHA256(secret, "<t>.<raw body>")>` and the timestamp must be within 5 minutes. The provider speaks our
canonical statuses and error codes, so there is no mapping table here.

Exactly-once: the create call carries `Idempotency-Key: <letter_id>` and the contract requires the provider to
answer a repeat with the letter it already holds, so ambiguous failures are retried safely.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from postal.codes import Code
from postal.errors import InvalidSignature, ProviderError
from postal.models import LetterStatus
from postal.providers.base import LetterSubmission, PriceQuote, PriceRequest, SubmitResult, WebhookEvent
from postal.providers.canonical import CANONICAL_CODES, CanonicalJsonAdapter, canonical_code
from postal.providers.http import ProviderHttp, RetryPolicy, error_details, json_body

SIGNATURE_HEADER = "Postal-Signature"
TOLERANCE_S = 300
# Statuses a provider may report; ours-only statuses (created, rendered, queued) are refused.
PROVIDER_STATUSES = frozenset(LetterStatus) - {LetterStatus.CREATED, LetterStatus.RENDERED, LetterStatus.QUEUED}


def sign(secret: str, raw_body: bytes, timestamp: int) -> str:
    """The `Postal-Signature` value for `raw_body` at unix time `timestamp`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str | None, raw_body: bytes, *, now: float, tolerance: int = TOLERANCE_S) -> None:
    """Raise `InvalidSignature` unless `header` signs `raw_body` with `secret` within `tolerance` seconds."""
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER}")
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    t, given = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or not given:
        raise InvalidSignature(f"malformed {SIGNATURE_HEADER}")
    if abs(now - int(t)) > tolerance:
        raise InvalidSignature(f"stale {SIGNATURE_HEADER} timestamp")
    expected = sign(secret, raw_body, int(t)).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given.lower()):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not match")


class GenericProvider(CanonicalJsonAdapter):
    """An org's own print house behind our generic contract, at `endpoint_url` (https)."""

    name = "generic"

    def __init__(
        self,
        *,
        endpoint_url: str,
        secret: str,
        http: httpx.Client,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._base = endpoint_url.rstrip("/")
        self._secret = secret
        self._http = ProviderHttp(http, self.name, policy)
        self._clock = clock

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw = json.dumps(body, separators=(",", ":"), default=str).encode() if body is not None else b""
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            SIGNATURE_HEADER: sign(self._secret, raw, int(self._clock())),
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        # Every call is safe to repeat: reads, idempotent-by-contract creates (key) and cancels, side-effect-free
        # quotes. The signature is computed once; repeats stay far inside the 5-minute tolerance.
        response = self._http.request(
            method, f"{self._base}{path}", safe=True, content=raw or None, headers=headers, params=params
        )
        return self._authorised(response, "The print house refused our signature")

    def _error(self, response: httpx.Response) -> ProviderError:
        """`{"error":{"code","message","fix"}}` with a canonical code; anything else is `rejected_by_provider`."""
        error = json_body(response).get("error") or {}
        code = canonical_code(error.get("code"))
        return ProviderError(
            code,
            str(error.get("message") or f"The print house answered HTTP {response.status_code}."),
            fix=str(
                error.get("fix") or "Read the print house's reason; change the letter or options, then send again."
            ),
            retryable=code == Code.PROVIDER_UNAVAILABLE,
            details=error_details(self.name, response, provider_code=error.get("code")),
        )

    @staticmethod
    def _status(raw: str) -> LetterStatus | None:
        return LetterStatus(raw) if raw in PROVIDER_STATUSES else None

    def _result(self, body: dict[str, Any]) -> SubmitResult:
        raw = str(body.get("status") or "submitted")
        price = body.get("price")
        return SubmitResult(
            provider_letter_id=str(body["provider_letter_id"]),
            status=self._status(raw) or LetterStatus.SUBMITTED,
            raw_status=raw,
            price=Decimal(str(price)) if price is not None else None,
            currency=body.get("currency"),
        )

    def submit(self, submission: LetterSubmission) -> SubmitResult:
        """POST /letters with the presigned PDF URL; the print house downloads it."""
        if not submission.pdf_url:
            raise ValueError("the generic provider needs submission.pdf_url (a presigned GET URL)")
        body = {
            "letter_id": submission.letter_id,
            "pdf_url": submission.pdf_url,
            "recipient": submission.recipient.model_dump(mode="json"),
            "sender": submission.sender.model_dump(mode="json") if submission.sender else None,
            "postage": submission.postage.value,
            "color": submission.color,
            "duplex": submission.duplex,
            "page_count": submission.page_count,
            "address_position": submission.address_position,
        }
        response = self._call("POST", "/letters", body, idempotency_key=submission.letter_id)
        return self._result(json_body(self._expect(response, 200, 201)))

    def cancel(self, provider_letter_id: str) -> None:
        """POST /letters/{id}/cancel; 409 once the letter is printing."""
        self._expect(self._call("POST", f"/letters/{provider_letter_id}/cancel", {}), 200, 202, 204)

    def quote(self, request: PriceRequest) -> PriceQuote:
        """POST /quotes: the print house's price per letter."""
        body = json_body(self._expect(self._call("POST", "/quotes", request.model_dump(mode="json")), 200))
        amount = Decimal(str(body["amount"]))
        return PriceQuote(
            amount=amount, currency=str(body["currency"]), total=amount * request.volume, source="provider"
        )

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        """Verify `Postal-Signature` (5-min tolerance) and read `{event_id, letter_id, status, occurred_at, …}`."""
        lowered = {k.lower(): v for k, v in headers.items()}
        verify(self._secret, lowered.get(SIGNATURE_HEADER.lower()), raw_body, now=self._clock())
        try:
            payload = json.loads(raw_body)
            raw = str(payload["status"])
            event = WebhookEvent(
                provider=self.name,
                event_id=str(payload["event_id"]),
                provider_letter_id=payload.get("provider_letter_id"),
                letter_id=payload.get("letter_id"),
                status=self._status(raw),
                raw_status=raw,
                occurred_at=datetime.fromisoformat(str(payload["occurred_at"]).replace("Z", "+00:00")),
                reason=payload.get("reason"),
                error_code=payload.get("error_code") if payload.get("error_code") in CANONICAL_CODES else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSignature("signed body does not follow the generic callback contract") from exc
        return [event]

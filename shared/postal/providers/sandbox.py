"""Sandbox provider adapter: talks HTTP to `local/sandbox_server.py` (no credentials).

The sandbox speaks canonical statuses and error codes. Its webhooks are Pingen-shaped and Pingen-signed
(`Signature` = hex HMAC-SHA256 of the raw body with our signing key), so this adapter reuses Pingen's parsing.
Exactly-once: the sandbox is idempotent on `letter_id`, so a repeated create returns the letter it already holds.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx

from postal.models import LetterStatus
from postal.providers.base import (
    InvalidSignature,
    LetterSubmission,
    PriceQuote,
    PriceRequest,
    ProviderError,
    ProviderErrorCode,
    ProviderLetter,
    SubmitResult,
    WebhookEvent,
)
from postal.providers.http import ProviderHttp, RetryPolicy, json_body, request_id
from postal.providers.pingen import parse_jsonapi_webhook, verify_hex_signature

DEFAULT_URL = "http://127.0.0.1:4010"
CANONICAL_CODES = frozenset(v for k, v in vars(ProviderErrorCode).items() if k.isupper())


def _status(raw: str) -> LetterStatus | None:
    try:
        return LetterStatus(raw)
    except ValueError:
        return None


class SandboxProvider:
    """The local sandbox provider; `webhook_url`/`signing_key` tell it where and how to call back."""

    name = "sandbox"

    def __init__(
        self,
        *,
        http: httpx.Client,
        base_url: str = DEFAULT_URL,
        webhook_url: str | None = None,
        signing_key: str | None = None,
        policy: RetryPolicy | None = None,
    ):
        self._base = base_url.rstrip("/")
        self._webhook_url = webhook_url
        self._signing_key = signing_key
        self._http = ProviderHttp(http, self.name, policy)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # Every sandbox call is safe to repeat: creates are idempotent on letter_id, cancels on the letter.
        return self._http.request(method, f"{self._base}{path}", safe=True, **kwargs)

    def _error(self, response: httpx.Response) -> ProviderError:
        error = json_body(response).get("error") or {}
        code = str(error.get("code") or "")
        if code not in CANONICAL_CODES:
            code = ProviderErrorCode.REJECTED_BY_PROVIDER
        return ProviderError(
            code,
            f"Sandbox: {error.get('message') or f'HTTP {response.status_code}'}",
            fix="Change the letter as the message says (sandbox), then send again.",
            details={
                "provider": self.name,
                "status": response.status_code,
                "request_id": request_id(response),
                "provider_code": error.get("code"),
            },
        )

    @staticmethod
    def _result(body: dict[str, Any]) -> SubmitResult:
        raw = str(body.get("status") or "submitted")
        return SubmitResult(
            provider_letter_id=str(body["id"]), status=_status(raw) or LetterStatus.SUBMITTED, raw_status=raw
        )

    def submit(self, submission: LetterSubmission) -> SubmitResult:
        """POST /letters with the PDF URL (or the PDF inline) and our webhook target."""
        body: dict[str, Any] = {
            "letter_id": submission.letter_id,
            "recipient": submission.recipient.model_dump(mode="json"),
            "postage": submission.postage.value,
            "color": submission.color,
            "duplex": submission.duplex,
            "page_count": submission.page_count,
            "webhook_url": self._webhook_url,
            "signing_key": self._signing_key,
        }
        if submission.pdf_url:
            body["pdf_url"] = submission.pdf_url
        else:
            body["pdf_base64"] = base64.b64encode(submission.pdf).decode()
        response = self._call("POST", "/letters", json=body)
        if response.status_code not in (200, 201):
            raise self._error(response)
        return self._result(json_body(response))

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:
        """GET /letters?letter_id=…; None on 404."""
        response = self._call("GET", "/letters", params={"letter_id": letter_id})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._error(response)
        return self._result(json_body(response))

    def get(self, provider_letter_id: str) -> ProviderLetter:
        """GET /letters/{id}."""
        response = self._call("GET", f"/letters/{provider_letter_id}")
        if response.status_code != 200:
            raise self._error(response)
        raw = str(json_body(response).get("status") or "")
        return ProviderLetter(provider_letter_id=provider_letter_id, status=_status(raw), raw_status=raw)

    def cancel(self, provider_letter_id: str) -> None:
        """POST /letters/{id}/cancel; `rejected_by_provider` once printing has started."""
        response = self._call("POST", f"/letters/{provider_letter_id}/cancel", json={})
        if response.status_code != 200:
            raise self._error(response)

    def quote(self, request: PriceRequest) -> PriceQuote:
        """POST /prices."""
        response = self._call("POST", "/prices", json=request.model_dump(mode="json"))
        if response.status_code != 200:
            raise self._error(response)
        body = json_body(response)
        return PriceQuote(
            amount=Decimal(body["amount"]), currency=body["currency"], total=Decimal(body["total"]), source="provider"
        )

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        """Verify the Pingen-style `Signature` and read the canonical status the sandbox reports."""
        if not self._signing_key:
            raise InvalidSignature("no webhook signing key configured for the sandbox")
        lowered = {k.lower(): v for k, v in headers.items()}
        verify_hex_signature(self._signing_key, raw_body, lowered.get("signature"))
        try:
            hook = parse_jsonapi_webhook(raw_body)
        except ValueError as exc:
            raise InvalidSignature("signed body is not a sandbox webhook") from exc
        error_code = hook.letter_attributes.get("error_code")
        return [
            WebhookEvent(
                provider=self.name,
                event_id=f"{hook.event_id}:{hook.letter_id}",
                provider_letter_id=hook.letter_id,
                letter_id=hook.letter_attributes.get("letter_id"),
                status=_status(hook.code),
                raw_status=hook.code,
                occurred_at=hook.occurred_at,
                reason=hook.reason,
                error_code=error_code if error_code in CANONICAL_CODES else None,
            )
        ]

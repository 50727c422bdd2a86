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

from postal.errors import InvalidSignature, ProviderError
from postal.models import LetterStatus
from postal.providers.base import LetterSubmission, PriceQuote, PriceRequest, SubmitResult, WebhookEvent
from postal.providers.canonical import CANONICAL_CODES, CanonicalJsonAdapter, canonical_code
from postal.providers.http import ProviderHttp, RetryPolicy, error_details, json_body
from postal.providers.pingen.events import read_signed_webhook

DEFAULT_URL = "http://127.0.0.1:4010"


class SandboxProvider(CanonicalJsonAdapter):
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
        return ProviderError(
            canonical_code(error.get("code")),
            f"Sandbox: {error.get('message') or f'HTTP {response.status_code}'}",
            fix="Change the letter as the message says (sandbox), then send again.",
            details=error_details(self.name, response, provider_code=error.get("code")),
        )

    @staticmethod
    def _status(raw: str) -> LetterStatus | None:
        try:
            return LetterStatus(raw)
        except ValueError:
            return None

    def _result(self, body: dict[str, Any]) -> SubmitResult:
        raw = str(body.get("status") or "submitted")
        return SubmitResult(
            provider_letter_id=str(body["id"]), status=self._status(raw) or LetterStatus.SUBMITTED, raw_status=raw
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
        return self._result(json_body(self._expect(response, 200, 201)))

    def cancel(self, provider_letter_id: str) -> None:
        """POST /letters/{id}/cancel; `rejected_by_provider` once printing has started."""
        self._expect(self._call("POST", f"/letters/{provider_letter_id}/cancel", json={}), 200)

    def quote(self, request: PriceRequest) -> PriceQuote:
        """POST /prices."""
        body = json_body(self._expect(self._call("POST", "/prices", json=request.model_dump(mode="json")), 200))
        return PriceQuote(
            amount=Decimal(body["amount"]), currency=body["currency"], total=Decimal(body["total"]), source="provider"
        )

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        """Verify the Pingen-style `Signature` and read the canonical status the sandbox reports."""
        if not self._signing_key:
            raise InvalidSignature("no webhook signing key configured for the sandbox")
        hook = read_signed_webhook(self._signing_key, headers, raw_body, sender="sandbox")
        error_code = hook.letter_attributes.get("error_code")
        return [
            WebhookEvent(
                provider=self.name,
                event_id=f"{hook.event_id}:{hook.letter_id}",
                provider_letter_id=hook.letter_id,
                letter_id=hook.letter_attributes.get("letter_id"),
                status=self._status(hook.code),
                raw_status=hook.code,
                occurred_at=hook.occurred_at,
                reason=hook.reason,
                error_code=error_code if error_code in CANONICAL_CODES else None,
            )
        ]

"""What the adapters of providers that speak our canonical JSON share (the generic print house, the sandbox).

Such a provider reports our own statuses and error codes, finds the letter it holds for our id at
`GET /letters?letter_id=…` (404: none) and shows one letter at `GET /letters/{id}`.
"""

from __future__ import annotations

from typing import Any

import httpx

from postal.codes import PROVIDER_CODES, Code
from postal.models import LetterStatus
from postal.providers.base import ProviderLetter, SubmitResult
from postal.providers.http import HttpAdapter, json_body

CANONICAL_CODES = PROVIDER_CODES


def canonical_code(value: Any) -> str:
    """`value` when it is one of our error codes, else `rejected_by_provider`."""
    code = str(value or "")
    return code if code in CANONICAL_CODES else Code.REJECTED_BY_PROVIDER


class CanonicalJsonAdapter(HttpAdapter):
    """Base of the generic and sandbox adapters: `find_by_reference` and `get` over the lookups they share.

    A subclass implements `_call`, `_error`, `_status` (which raw statuses it accepts) and `_result`.
    """

    def _call(self, method: str, path: str, *, params: dict[str, str] | None = None) -> httpx.Response:
        """One request to the provider (every call to these providers is safe to repeat)."""
        raise NotImplementedError

    def _status(self, raw: str) -> LetterStatus | None:
        raise NotImplementedError

    def _result(self, body: dict[str, Any]) -> SubmitResult:
        raise NotImplementedError

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:
        """GET /letters?letter_id=…: the letter the provider holds for our id (404: none)."""
        response = self._call("GET", "/letters", params={"letter_id": letter_id})
        if response.status_code == 404:
            return None
        return self._result(json_body(self._expect(response, 200)))

    def get(self, provider_letter_id: str) -> ProviderLetter:
        """GET /letters/{id}."""
        body = json_body(self._expect(self._call("GET", f"/letters/{provider_letter_id}"), 200))
        raw = str(body.get("status") or "")
        return ProviderLetter(
            provider_letter_id=provider_letter_id,
            status=self._status(raw),
            raw_status=raw,
            tracking_number=body.get("tracking_number"),
        )

"""A fake print house implementing our generic contract (docs/generic-provider.md) for httpx.MockTransport.

Verifies `Postal-Signature` on every request, requires `Idempotency-Key` on creates and replays on it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from postal.providers.base import InvalidSignature
from postal.providers.generic import sign, verify
from tests.fakes.common import FakeApi


@dataclass
class GenericFake(FakeApi):
    secret: str = "generic-shared-secret-0123456789"
    letters: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)

    def callback(self, body: dict[str, Any], *, at: int | None = None) -> tuple[dict[str, str], bytes]:
        """Headers and raw body of a signed status callback, as the print house would send it."""
        raw = json.dumps(body).encode()
        return {"Postal-Signature": sign(self.secret, raw, at if at is not None else int(time.time()))}, raw

    def _fault(self, status: int, message: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.Response(
            status, json={"error": {"code": "provider_unavailable", "message": message}}, headers=headers
        )

    def _route(self, request: httpx.Request) -> httpx.Response:
        try:
            verify(self.secret, request.headers.get("postal-signature"), request.content, now=time.time())
        except InvalidSignature as exc:
            return httpx.Response(401, json={"error": {"code": "bad_signature", "message": str(exc)}})
        parts = [p for p in request.url.path.split("/") if p][1:]  # drop the endpoint's own path segment
        if parts == ["letters"] and request.method == "POST":
            key = request.headers.get("idempotency-key")
            if not key:
                return httpx.Response(400, json={"error": {"code": "bad_request", "message": "Idempotency-Key"}})
            if key in self.by_key:
                return httpx.Response(200, json=self.letters[self.by_key[key]])
            body = json.loads(request.content)
            if not body.get("pdf_url", "").startswith("https://"):
                return httpx.Response(422, json={"error": {"code": "format_error", "message": "pdf_url"}})
            if not body.get("recipient", {}).get("lines"):
                return httpx.Response(
                    422,
                    json={
                        "error": {"code": "missing_address_fields", "message": "recipient.lines", "fix": "add a street"}
                    },
                )
            letter = {
                "provider_letter_id": f"ph-{uuid.uuid4().hex[:12]}",
                "letter_id": body["letter_id"],
                "status": "accepted",
                "price": "1.40",
                "currency": "EUR",
            }
            self.letters[letter["provider_letter_id"]] = letter
            self.by_key[key] = letter["provider_letter_id"]
            return httpx.Response(201, json=letter)
        if parts == ["letters"] and request.method == "GET":
            known = self.by_key.get(request.url.params.get("letter_id", ""))
            if known is None:
                return httpx.Response(404, json={"error": {"code": "not_found", "message": "unknown letter_id"}})
            return httpx.Response(200, json=self.letters[known])
        if parts == ["quotes"] and request.method == "POST":
            return httpx.Response(200, json={"amount": "1.40", "currency": "EUR"})
        if len(parts) >= 2 and parts[0] == "letters" and parts[1] in self.letters:
            letter = self.letters[parts[1]]
            if request.method == "GET" and len(parts) == 2:
                return httpx.Response(200, json=letter)
            if request.method == "POST" and parts[2:] == ["cancel"]:
                if letter["status"] not in ("submitted", "accepted"):
                    return httpx.Response(
                        409, json={"error": {"code": "rejected_by_provider", "message": "already printing"}}
                    )
                letter["status"] = "cancelled"
                return httpx.Response(200, json=letter)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no route"}})

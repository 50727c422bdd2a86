"""A stateful fake of PostGrid Print & Mail letters (providers.md §2) for httpx.MockTransport.

Checks `x-api-key`, multipart uploads with a PDF part, inline contacts (addressLine1, countryCode, firstName or
companyName), and the enums for addressPlacement, size and mailingClass. Letters are searchable by `search`.
No idempotency: a repeated create makes a second letter, as the real API would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fakes.common import FakeApi, parse_multipart

MAILING_CLASSES = {"first_class", "standard_class", "express", "certified", "certified_return_receipt", "registered"}
LETTERS = "/print-mail/v1/letters"


@dataclass
class PostGridFake(FakeApi):
    api_key: str = "test_sk_abc123"
    letters: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)

    def _fault(self, status: int, message: str, headers: dict[str, str]) -> httpx.Response:
        return self._error(status, "server_error", message, headers)

    def _error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(
            status,
            json={"error": {"type": kind, "message": message}},
            headers={"X-Request-ID": uuid.uuid4().hex, **(headers or {})},
        )

    def _route(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("x-api-key") != self.api_key:
            return self._error(401, "invalid_api_key_error", "Invalid API key.")
        path = request.url.path
        if path == LETTERS and request.method == "POST":
            return self._create(request)
        if path == LETTERS and request.method == "GET":
            search = request.url.params.get("search", "")
            found = [
                letter
                for letter in self.letters.values()
                if search and (search in letter["description"] or search in letter["metadata"].values())
            ]
            return httpx.Response(
                200, json={"object": "list", "limit": 10, "skip": 0, "totalCount": len(found), "data": found}
            )
        if path.startswith(LETTERS + "/"):
            letter = self.letters.get(path.rsplit("/", 1)[1])
            if letter is None:
                return self._error(404, "not_found_error", "Letter not found.")
            if request.method == "GET":
                return httpx.Response(200, json=letter)
            if request.method == "DELETE":
                if letter["status"] != "ready":
                    return self._error(400, "letter_cancellation_error", "Only ready letters can be cancelled.")
                letter["status"] = "cancelled"
                letter["cancellation"] = {"reason": "user_initiated", "cancelledByUser": "api"}
                return httpx.Response(200, json=letter)
        return self._error(404, "not_found_error", "No such route.")

    def _create(self, request: httpx.Request) -> httpx.Response:
        # As postgrid-python and ../shared/contracts/strict_postgrid.py: a reused key replays the first letter.
        key = request.headers.get("idempotency-key")
        if key and key in self.idempotency:
            return httpx.Response(201, json=self.letters[self.idempotency[key]])
        try:
            fields, files = parse_multipart(request)
        except ValueError as exc:
            return self._error(400, "validation_error", str(exc))
        for side in ("to", "from"):
            if not fields.get(f"{side}[addressLine1]") or not fields.get(f"{side}[countryCode]"):
                return self._error(400, "validation_error", f"{side}.addressLine1 and {side}.countryCode required")
            if not (fields.get(f"{side}[firstName]") or fields.get(f"{side}[companyName]")):
                return self._error(400, "validation_error", f"{side} needs firstName or companyName")
            if len(fields[f"{side}[countryCode]"]) != 2:
                return self._error(400, "validation_error", f"{side}.countryCode must be ISO alpha-2")
        pdf = files.get("pdf")
        if pdf is None or pdf[1] != "application/pdf" or not pdf[2].startswith(b"%PDF"):
            return self._error(400, "invalid_pdf_error", "pdf must be a PDF file")
        checks = {
            "addressPlacement": {"top_first_page", "insert_blank_page"},
            "size": {"us_letter", "a4"},
            "mailingClass": MAILING_CLASSES,
            "color": {"true", "false"},
            "doubleSided": {"true", "false"},
        }
        for name, allowed in checks.items():
            if name in fields and fields[name] not in allowed:
                return self._error(400, "validation_error", f"{name} must be one of {sorted(allowed)}")
        letter_id = f"letter_{uuid.uuid4().hex[:20]}"
        metadata = {k[len("metadata[") : -1]: v for k, v in fields.items() if k.startswith("metadata[")}
        letter = {
            "id": letter_id,
            "object": "letter",
            "live": self.api_key.startswith("live_"),
            "status": "ready",
            "description": fields.get("description", ""),
            "metadata": metadata,
            "mailingClass": fields.get("mailingClass", "first_class"),
            "size": fields.get("size"),
            "addressPlacement": fields.get("addressPlacement"),
            "trackingNumber": None,
            "imbStatus": None,
            "createdAt": f"2030-01-01T00:00:{len(self.letters):02d}Z",
        }
        self.letters[letter_id] = letter
        if key:
            self.idempotency[key] = letter_id
        return httpx.Response(201, json=letter, headers={"X-Request-ID": uuid.uuid4().hex})

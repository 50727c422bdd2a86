"""A stateful fake of MySendingBox letters (providers.md §3) for httpx.MockTransport.

Checks Basic auth (key, empty password), multipart with `source_file`, nested `to[...]` keys with the required
fields, a country *name* (not a code), `color` and `postage_type` enums. No idempotency, like the real API.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from tests.fakes.common import FakeApi, parse_multipart

POSTAGE_TYPES = {"ecopli", "verte", "prioritaire", "lr", "lrar"}


@dataclass
class MySendingBoxFake(FakeApi):
    api_key: str = "test_msb_123"
    letters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _fault(self, status: int, message: str, headers: dict[str, str]) -> httpx.Response:
        return self._error(status, message, headers)

    @staticmethod
    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": message}}, headers=headers or {})

    def _route(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if request.headers.get("authorization") != expected:
            return self._error(401, "Unauthorized: invalid API key")
        path = request.url.path
        if path == "/letters" and request.method == "POST":
            return self._create(request)
        if path == "/letters/price" and request.method == "POST":
            return self._price(request)
        if path == "/letters" and request.method == "GET":
            wanted = request.url.params.get("metadata[letter_id]")
            found = [
                letter
                for letter in self.letters.values()
                if wanted is None or letter["metadata"].get("letter_id") == wanted
            ]
            return httpx.Response(200, json={"letters": found, "total": len(found)})
        if path.startswith("/letters/"):
            letter = self.letters.get(path.rsplit("/", 1)[1])
            if letter is None:
                return self._error(404, "Letter not found")
            if request.method == "GET":
                return httpx.Response(200, json=letter)
            if request.method == "DELETE":
                if any(e["name"] != "letter.created" for e in letter["events"]):
                    return self._error(422, "Letter already in production, it cannot be canceled")
                letter["events"].append({"name": "letter.canceled", "category": "letter"})
                return httpx.Response(200, json={"_id": letter["_id"], "deleted": True})
        return self._error(404, "Not found")

    def _create(self, request: httpx.Request) -> httpx.Response:
        try:
            fields, files = parse_multipart(request)
        except ValueError as exc:
            return self._error(400, str(exc))
        for name in ("address_line1", "address_city", "address_postalcode", "address_country"):
            if not fields.get(f"to[{name}]"):
                return self._error(422, f"to[{name}] is required")
        if len(fields["to[address_country]"]) <= 3:
            return self._error(422, "to[address_country] must be a country name, e.g. France")
        source = files.get("source_file")
        if fields.get("source_file_type") != "file" or source is None or not source[2].startswith(b"%PDF"):
            return self._error(422, "source_file must be a PDF file with source_file_type=file")
        if fields.get("color") not in ("bw", "color"):
            return self._error(422, "color must be bw or color")
        if fields.get("postage_type") not in POSTAGE_TYPES:
            return self._error(422, f"postage_type must be one of {sorted(POSTAGE_TYPES)}")
        letter_id = uuid.uuid4().hex[:24]
        metadata = {k[len("metadata[") : -1]: v for k, v in fields.items() if k.startswith("metadata[")}
        letter = {
            "_id": letter_id,
            "mode": "test" if self.api_key.startswith("test_") else "live",
            "description": fields.get("description"),
            "metadata": metadata,
            # As the real API (and ../shared/contracts/strict_mysendingbox.py): an object, never a number.
            "price": {"pack": "developer", "postage": 1.01, "service": 0.55, "total": 1.56},
            "status": {"name": "letter.created", "description": "created"},
            "postage_type": fields["postage_type"],
            "color": fields["color"],
            "error": False,
            "wrong_address": False,
            "tracking_number": None,
            "tracking_events": [],
            "events": [{"name": "letter.created", "category": "letter"}],
        }
        self.letters[letter_id] = letter
        return httpx.Response(200, json=letter)

    def _price(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return self._error(400, "expected a form-encoded body")
        fields = dict(httpx.QueryParams(request.content.decode()).items())
        if fields.get("postage_type") not in POSTAGE_TYPES:
            return self._error(422, "postage_type is invalid")
        pages = int(fields.get("page_count", "1"))
        total = (
            Decimal("1.20")
            + Decimal("0.15") * (pages - 1)
            + (Decimal("0.30") if fields["color"] == "color" else Decimal(0))
        )
        return httpx.Response(
            200, json={"pack": "0", "postage": "1.00", "service": str(total - 1), "total": str(total)}
        )

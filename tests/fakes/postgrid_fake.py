"""A stateful fake of PostGrid Print & Mail letters (providers.md §2) for httpx.MockTransport.

Checks `x-api-key`, multipart uploads with a PDF part, inline contacts (addressLine1, countryCode, firstName or
companyName), and the enums for addressPlacement, size and mailingClass. Letters are searchable by `search`.
No idempotency: a repeated create makes a second letter, as the real API would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import HTTP
from typing import Any

import httpx

from tests.fakes.pingen_fake import Fault

MAILING_CLASSES = {"first_class", "standard_class", "express", "certified", "certified_return_receipt", "registered"}
LETTERS = "/print-mail/v1/letters"


def parse_multipart(request: httpx.Request) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """(fields, files) of a multipart/form-data request; files map name -> (filename, content type, bytes)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(f"expected multipart/form-data, got {content_type!r}")
    message = message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content, policy=HTTP)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        filename = part.get_filename()
        if filename:
            files[name] = (filename, part.get_content_type(), payload)
        else:
            fields[name] = payload.decode()
    return fields, files


@dataclass
class PostGridFake:
    api_key: str = "test_sk_abc123"
    calls: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    letters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def count(self, method: str, path_part: str) -> int:
        """How many requests matched method and a path substring."""
        return sum(1 for m, p in self.calls if m == method and path_part in p)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        fault = next(
            (f for f in self.faults if f.times > 0 and f.method == request.method and f.path in request.url.path), None
        )
        if fault:
            fault.times -= 1
            if fault.kind == "timeout":
                raise httpx.ReadTimeout("injected", request=request)
            if fault.kind in ("429", "500", "503"):
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._error(int(fault.kind), "server_error", "injected", headers)
        response = self._route(request)
        if fault and fault.kind == "crash_after_accept":
            return self._error(500, "server_error", "crashed after accepting")
        if fault and fault.kind == "drop_after_accept":
            raise httpx.ReadTimeout("response lost", request=request)
        return response

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
        return httpx.Response(201, json=letter, headers={"X-Request-ID": uuid.uuid4().hex})

"""A stateful fake of Pingen API v2 for httpx.MockTransport, strict where providers.md §1 is precise.

Checks: form-encoded OAuth on the identity host, bearer tokens it issued (and can expire), JSON:API content
types, the presigned PUT without Authorization, required create attributes and enums, registered `meta_data`
limits, and `Idempotency-Key` replay. Faults can be injected per method/path and every call is recorded.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from tests.fakes.common import FakeApi, Fault

__all__ = ["Fault", "PingenFake"]  # Fault: the adapter tests import it from here

JSONAPI = "application/vnd.api+json"
STORAGE_HOST = "storage.fake-pingen.test"
PRODUCTS = {"fast", "cheap", "bulk", "premium", "registered"}
LIMITS = {"name": 45, "street": 40, "number": 10, "pobox": 45, "zip": 8, "city": 25}


@dataclass
class PingenFake(FakeApi):
    client_id: str = "client-1"
    client_secret: str = "secret-1"
    organisation_id: str = "org-1"
    expires_in: int = 3600
    tokens: set[str] = field(default_factory=set)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    letters: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    idempotency_bodies: dict[str, bytes] = field(default_factory=dict)
    refuse_changed_body: bool = False
    price: str = "1.25"

    # --- helpers for tests --------------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Revoke every issued token: the next API call gets 401."""
        self.tokens.clear()

    def set_status(self, letter_id: str, status: str) -> None:
        self.letters[letter_id]["attributes"]["status"] = status

    # --- transport --------------------------------------------------------------------------------------------
    def _fault(self, status: int, message: str, headers: dict[str, str]) -> httpx.Response:
        return self._errors(status, "server_error", message, headers=headers)

    def _errors(
        self, status: int, code: str, detail: str, pointer: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        error: dict[str, Any] = {"code": code, "title": code, "detail": detail}
        if pointer:
            error["source"] = {"pointer": pointer}
        return httpx.Response(
            status,
            json={"errors": [error]},
            headers={"Content-Type": JSONAPI, "X-Request-ID": uuid.uuid4().hex, **(headers or {})},
        )

    def _ok(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(
            status,
            content=json.dumps(body).encode(),
            headers={"Content-Type": JSONAPI, "X-Request-ID": uuid.uuid4().hex, **(headers or {})},
        )

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.host == STORAGE_HOST:
            return self._put_file(request)
        if path == "/auth/access-tokens":
            return self._token(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            return self._errors(401, "unauthenticated", "Invalid or expired access token")
        if request.headers.get("accept") != JSONAPI:
            return self._errors(406, "not_acceptable", "Accept must be application/vnd.api+json")
        if request.content and request.headers.get("content-type") != JSONAPI:
            return self._errors(415, "unsupported_media_type", "Content-Type must be application/vnd.api+json")
        org_prefix = f"/organisations/{self.organisation_id}/deliveries/letters"
        if request.method == "GET" and path == "/file-upload":
            return self._file_upload()
        if (
            request.method in ("POST", "PATCH")
            and not request.headers.get("idempotency-key")
            and not path.endswith("price-calculator")
        ):
            return self._errors(400, "idempotency_key_missing", "this fake expects an Idempotency-Key")
        if request.method == "POST" and path == f"{org_prefix}/price-calculator":
            return self._price(request)
        if request.method == "POST" and path == org_prefix:
            return self._create(request)
        if path.startswith(org_prefix + "/"):
            rest = path.removeprefix(org_prefix + "/").split("/")
            letter = self.letters.get(rest[0])
            if letter is None:
                return self._errors(404, "not_found", "Letter not found")
            if request.method == "GET" and len(rest) == 1:
                return self._ok(200, {"data": letter})
            if request.method == "PATCH" and rest[1:] == ["cancel"]:
                if letter["attributes"]["status"] in ("sent", "delivered", "undeliverable", "printing"):
                    return self._errors(
                        422, "letter_not_cancellable", "Letter can no longer be cancelled", "/data/attributes/status"
                    )
                letter["attributes"]["status"] = "cancelling"
                return self._ok(200, {"data": letter})
        return self._errors(404, "not_found", f"No route {request.method} {path}")

    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return httpx.Response(400, json={"error": "invalid_request"})
        if "authorization" in request.headers:
            return httpx.Response(400, json={"error": "invalid_request"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != "client_credentials" or not form.get("scope"):
            return httpx.Response(400, json={"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return httpx.Response(401, json={"error": "invalid_client"})
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return httpx.Response(200, json={"token_type": "Bearer", "access_token": token, "expires_in": self.expires_in})

    def _file_upload(self) -> httpx.Response:
        key = uuid.uuid4().hex
        signature = secrets.token_hex(16)
        url = f"https://{STORAGE_HOST}/uploads/{key}?X-Amz-Signature={signature}"
        self.uploads[url] = {"signature": signature, "uploaded": False}
        return self._ok(
            200,
            {
                "data": {
                    "id": key,
                    "type": "file_uploads",
                    "attributes": {"url": url, "url_signature": signature, "expires_at": "2030-01-01T00:00:00+00:00"},
                }
            },
        )

    def _put_file(self, request: httpx.Request) -> httpx.Response:
        upload = self.uploads.get(str(request.url))
        if request.method != "PUT" or upload is None:
            return httpx.Response(403, text="<Error>SignatureDoesNotMatch</Error>")
        if "authorization" in request.headers:
            return httpx.Response(400, text="<Error>InvalidArgument: Authorization with presigned URL</Error>")
        if request.headers.get("content-type") != "application/pdf" or not request.content.startswith(b"%PDF"):
            return httpx.Response(400, text="<Error>not a PDF</Error>")
        upload["uploaded"] = True
        return httpx.Response(200)

    def _create(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        if key in self.idempotency:
            if self.refuse_changed_body and self.idempotency_bodies.get(key) != request.content:
                # What-if (unconfirmed at Pingen): a key reused with another body is refused.
                return self._errors(422, "idempotency_key_reused", "Idempotency-Key reused with a different body")
            status, body = self.idempotency[key]
            return self._ok(status, body, headers={"Idempotent-Replayed": "true"})
        self.idempotency_bodies[key] = request.content
        try:
            data = json.loads(request.content)["data"]
            attrs = data["attributes"]
        except (ValueError, KeyError, TypeError):
            return self._errors(400, "bad_request", "Malformed JSON:API document")
        if data.get("type") != "letters":
            return self._errors(409, "type_mismatch", "data.type must be letters", "/data/type")
        problems = self._validate(attrs)
        if problems:
            return self._errors(422, "validation_error", problems[0][1], problems[0][0])
        letter_id = str(uuid.uuid4())
        letter = {
            "id": letter_id,
            "type": "letters",
            "attributes": {
                "status": "validating",
                "file_original_name": attrs["file_original_name"],
                "delivery_product": attrs["delivery_product"],
                "print_mode": attrs["print_mode"],
                "print_spectrum": attrs["print_spectrum"],
                "price_currency": "CHF",
                "price_value": 1.25,
                "tracking_number": None,
                "meta_data": attrs.get("meta_data"),
            },
        }
        self.letters[letter_id] = letter
        self.idempotency[key] = (201, {"data": letter})
        return self._ok(201, {"data": letter})

    def _validate(self, attrs: dict[str, Any]) -> list[tuple[str, str]]:
        p = "/data/attributes/"
        problems: list[tuple[str, str]] = []
        name = attrs.get("file_original_name")
        if not isinstance(name, str) or not 5 <= len(name) <= 255:
            problems.append((p + "file_original_name", "file_original_name must be 5-255 characters"))
        url = attrs.get("file_url")
        upload = self.uploads.get(url) if isinstance(url, str) else None
        if upload is None or len(str(url)) > 1000 or not upload["uploaded"]:
            problems.append((p + "file_url", "file_url is not an uploaded file"))
        elif attrs.get("file_url_signature") != upload["signature"] or len(attrs["file_url_signature"]) > 60:
            problems.append((p + "file_url_signature", "file_url_signature does not match"))
        if attrs.get("address_position") not in ("left", "right"):
            problems.append((p + "address_position", "address_position must be left or right"))
        if not isinstance(attrs.get("auto_send"), bool):
            problems.append((p + "auto_send", "auto_send must be a boolean"))
        if attrs.get("auto_send"):
            if attrs.get("delivery_product") not in PRODUCTS:
                problems.append((p + "delivery_product", "invalid delivery_product"))
            if attrs.get("print_mode") not in ("simplex", "duplex"):
                problems.append((p + "print_mode", "invalid print_mode"))
            if attrs.get("print_spectrum") not in ("grayscale", "color"):
                problems.append((p + "print_spectrum", "invalid print_spectrum"))
        recipient = (attrs.get("meta_data") or {}).get("recipient")
        if attrs.get("delivery_product") == "registered" and not recipient:
            problems.append((p + "meta_data/recipient", "registered mail needs meta_data.recipient"))
        if recipient:
            for key, limit in LIMITS.items():
                if len(str(recipient.get(key, ""))) > limit:
                    problems.append((p + f"meta_data/recipient/{key}", f"{key} is longer than {limit}"))
            country = str(recipient.get("country", ""))
            if len(country) != 2 or not country.isupper():
                problems.append((p + "meta_data/recipient/country", "country must be ISO alpha-2 upper case"))
            if not (recipient.get("street") or recipient.get("pobox")):
                problems.append((p + "meta_data/recipient/street", "street or pobox is required"))
        return problems

    def _price(self, request: httpx.Request) -> httpx.Response:
        data = json.loads(request.content)["data"]
        attrs = data["attributes"]
        if data.get("type") != "letter_price_calculator":
            return self._errors(409, "type_mismatch", "data.type must be letter_price_calculator", "/data/type")
        if attrs.get("country") == "KP":
            return self._errors(422, "validation_error", "No delivery product for country", "/data/attributes/country")
        if attrs.get("delivery_product") not in PRODUCTS or not attrs.get("paper_types"):
            return self._errors(422, "validation_error", "invalid price request", "/data/attributes/delivery_product")
        return self._ok(
            200,
            {
                "data": {
                    "id": "price",
                    "type": "letter_price_calculator",
                    "attributes": {"currency": "CHF", "price": self.price},
                }
            },
        )

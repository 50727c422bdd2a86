"""Pingen API v2 adapter (providers.md §1): OAuth2 client credentials, JSON:API, presigned upload, webhooks.

Exactly-once: every POST/PATCH carries `Idempotency-Key: <our letter_id>` (§1.7), so a retry after a lost
response replays the original letter instead of creating a second one. Pingen has no search by our reference,
so `find_by_reference` returns None and `submit` itself is the safe lookup-or-create.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from postal.models import Address, LetterStatus, Postage
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
    as_dict,
)
from postal.providers.http import (
    HttpAdapter,
    ProviderHttp,
    RetryPolicy,
    credentials_rejected,
    error_details,
    json_body,
    request_id,
)

logger = logging.getLogger(__name__)

LIVE_API = "https://api.pingen.com"
LIVE_IDENTITY = "https://identity.pingen.com"
STAGING_API = "https://api-staging.pingen.com"
STAGING_IDENTITY = "https://identity-staging.pingen.com"
JSONAPI = "application/vnd.api+json"
TOKEN_MARGIN_S = 60.0  # renew this long before expiry, like the JS SDK (§1.1)

DELIVERY_PRODUCT = {
    Postage.PRIORITY: "fast",
    Postage.ECONOMY: "cheap",
    Postage.REGISTERED: "registered",
    # No return-receipt product exists (§5.2): registered_with_receipt is refused (capabilities.json), never
    # silently sent as plain registered.
}
REGISTERED_LIMITS = {"name": 45, "street": 40, "number": 10, "zip": 8, "city": 25}

STATUS_MAP: dict[str, LetterStatus | None] = {
    "validating": LetterStatus.SUBMITTED,
    "valid": LetterStatus.SUBMITTED,
    "fixing": LetterStatus.SUBMITTED,
    "submitted": LetterStatus.ACCEPTED,
    "accepted": LetterStatus.ACCEPTED,
    "transferring": LetterStatus.ACCEPTED,
    "inspection": LetterStatus.ACCEPTED,
    "printing": LetterStatus.PRINTING,
    "processing": LetterStatus.PRINTING,
    "sent": LetterStatus.SENT,
    "delivered": LetterStatus.DELIVERED,
    "undeliverable": LetterStatus.UNDELIVERABLE,
    "invalid": LetterStatus.FAILED,
    "unprintable": LetterStatus.FAILED,
    "rejected": LetterStatus.FAILED,
    "expired": LetterStatus.FAILED,
    "action_required": LetterStatus.FAILED,
    # `cancelling` is only a request: Pingen may still reject it (cancellation_rejected) and print. Moving to the
    # final `cancelled` now could hide a letter that is mailed after all, so it stays a history entry.
    "cancelling": None,
    "cancelled": LetterStatus.CANCELLED,
    "awaiting_credits": None,
}
STATUS_ERROR = {
    "invalid": ProviderErrorCode.REJECTED_BY_PROVIDER,
    "unprintable": ProviderErrorCode.REJECTED_BY_PROVIDER,
    "rejected": ProviderErrorCode.REJECTED_BY_PROVIDER,
    "expired": ProviderErrorCode.INSUFFICIENT_CREDIT,
    "action_required": ProviderErrorCode.FORMAT_ERROR,
    "awaiting_credits": ProviderErrorCode.INSUFFICIENT_CREDIT,
    "undeliverable": ProviderErrorCode.UNDELIVERABLE,
}
WEBHOOK_STATUS = {
    "webhook_sent": LetterStatus.SENT,
    "webhook_delivered": LetterStatus.DELIVERED,
    "webhook_undeliverable": LetterStatus.UNDELIVERABLE,
}
# Letter statuses that mean a person must act before Pingen prints (§1.5): a webhook on a letter in one of
# these never stays a silent history line.
PROBLEM_STATUSES = frozenset({"invalid", "unprintable", "action_required", "expired", "rejected"})
FILE_ISSUES = frozenset(
    {
        "file_too_many_pages",
        "file_not_a4_portrait",
        "file_size_over_limit",
        "file_not_readable",
        "file_not_found",
        "file_removed",
        "invalid_pdf_binary_content",
    }
)
# Every event code Pingen's web app knows (AMANDA-Technology/PingenApiNet LetterEventCodes.cs, copied from the
# web app; 42 codes): (status, error code). None = a history entry (progress we also learn otherwise, or a wait
# that can still resolve itself).
ISSUE_MAP: dict[str, tuple[LetterStatus | None, str | None]] = {
    **dict.fromkeys(FILE_ISSUES, (LetterStatus.FAILED, ProviderErrorCode.FORMAT_ERROR)),
    "content_failed_inspection": (LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
    "content_inspection_error": (LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
    "rejected_from_printcenter": (LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
    "retracted_from_printcenter": (LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
    "meta_data_failed_requirements": (LetterStatus.FAILED, ProviderErrorCode.MISSING_ADDRESS_FIELDS),
    "shipping_country_blocked": (LetterStatus.FAILED, ProviderErrorCode.UNSUPPORTED_COUNTRY),
    "shipping_organization_country_blocked": (LetterStatus.FAILED, ProviderErrorCode.UNSUPPORTED_COUNTRY),
    "unable_to_find_delivery_product": (LetterStatus.FAILED, ProviderErrorCode.UNSUPPORTED_COUNTRY),
    "waiting_for_funds_expired": (LetterStatus.FAILED, ProviderErrorCode.INSUFFICIENT_CREDIT),
    "waiting_for_legitimacy_expired": (LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
    "waiting_for_funds": (None, ProviderErrorCode.INSUFFICIENT_CREDIT),
    "waiting_for_legitimacy": (None, None),
    "created": (None, None),
    "auto_initiated_sending": (None, None),
    "initiated_sending": (None, None),
    "change_address_position": (None, None),
    "address_position_changed": (None, None),
    "address_purged": (None, None),
    "content_passed_inspection": (None, None),
    "auto_submitted": (LetterStatus.ACCEPTED, None),
    "submitted": (LetterStatus.ACCEPTED, None),
    "accepted": (LetterStatus.ACCEPTED, None),
    "queued_for_transfer": (LetterStatus.ACCEPTED, None),
    "transferred_to_pool": (LetterStatus.ACCEPTED, None),
    "transferred_to_printcenter": (LetterStatus.PRINTING, None),
    "processing": (LetterStatus.PRINTING, None),
    "transferred_to_distributor": (LetterStatus.SENT, None),
    "receival_confirmed_by_distributor": (LetterStatus.SENT, None),
    "track_and_trace": (None, None),
    "rerouted": (None, None),
    "delivered": (LetterStatus.DELIVERED, None),
    "undeliverable": (LetterStatus.UNDELIVERABLE, ProviderErrorCode.UNDELIVERABLE),
    "cancellation_requested": (None, None),
    # Pingen refused the cancel: the letter goes on and is mailed (a history entry; the cancel already failed).
    "cancellation_rejected": (None, None),
    "cancellation_completed": (LetterStatus.CANCELLED, None),
}
# The fix a person must make, for the codes where it is more specific than the canonical one.
ISSUE_FIXES = {
    "rejected_from_printcenter": "Pingen's print centre refused the letter: read the reason in the Pingen web app, "
    "correct the PDF (margins, address zone, content) and send it again.",
    "retracted_from_printcenter": "Pingen withdrew the letter from printing: read the reason in the Pingen web "
    "app, then send it again.",
    "waiting_for_legitimacy_expired": "Pingen never verified the organisation: complete the legitimation in the "
    "Pingen web app, then send again.",
    "meta_data_failed_requirements": "The registered-mail address fields are refused: complete the customer's "
    "address (name, street and number, zip, city), then send again.",
}
FIXES = {
    ProviderErrorCode.MISSING_ADDRESS_FIELDS: "Complete the customer's billing address (or the address in the "
    "request); registered mail needs name, street and number (or PO box), zip, city and country within "
    "Pingen's length limits.",
    ProviderErrorCode.UNSUPPORTED_COUNTRY: "Correct the country if it is wrong; otherwise send by email or through "
    "a provider that covers the country.",
    ProviderErrorCode.FORMAT_ERROR: "Fix the template as the check report says, or switch on a generated cover "
    "page; then re-render.",
    ProviderErrorCode.INSUFFICIENT_CREDIT: "Top up the Pingen account or add a payment method.",
    ProviderErrorCode.REJECTED_BY_PROVIDER: "Read Pingen's reason shown with the error; change the content or "
    "options, then send again.",
    ProviderErrorCode.UNDELIVERABLE: "Correct the customer's address (Pingen may suggest one), then resend or fall "
    "back to email.",
    ProviderErrorCode.PROVIDER_PROBLEM: "Pingen holds the letter in a problem status it did not explain: open it in "
    "the Pingen web app, fix or cancel it there, then send it again if needed.",
}


@dataclass
class _Token:
    value: str
    renew_at: float


class TokenCache:
    """Access tokens per (token URL, client id), shared by the adapters of one Lambda container."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> str | None:
        """A cached token that is not within the renewal margin of its expiry."""
        with self._lock:
            token = self._tokens.get(key)
            return token.value if token and self._clock() < token.renew_at else None

    def put(self, key: tuple[str, str], value: str, expires_in: float) -> None:
        """Store a token; it is renewed `TOKEN_MARGIN_S` before it expires."""
        with self._lock:
            self._tokens[key] = _Token(value, self._clock() + max(0.0, expires_in - TOKEN_MARGIN_S))

    def drop(self, key: tuple[str, str]) -> None:
        """Forget a token the API refused (401)."""
        with self._lock:
            self._tokens.pop(key, None)


_TOKENS = TokenCache()


def verify_hex_signature(signing_key: str, raw_body: bytes, signature: str | None) -> None:
    """Pingen's scheme: header = lowercase hex HMAC-SHA256(raw body, signing key); constant-time compare."""
    expected = hmac.new(signing_key.encode(), raw_body, hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected, signature.strip().lower()):
        raise InvalidSignature("webhook signature does not match")


@dataclass(frozen=True)
class JsonApiWebhook:
    """The parts of a Pingen-shaped JSON:API webhook our mapping needs (also used by the sandbox)."""

    data_type: str
    letter_id: str | None
    event_id: str
    code: str
    occurred_at: datetime
    reason: str | None
    attributes: dict[str, Any]
    letter_attributes: dict[str, Any]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_jsonapi_webhook(raw_body: bytes) -> JsonApiWebhook:
    """Parse leniently: letter id from `letter` or `deliverable` (format drift 2026-07), event from `included[]`
    as `letters_events` or `deliverables_events`, possibly listed twice."""
    try:
        payload = json.loads(raw_body)
        data = payload["data"]
        data_type = str(data["type"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a JSON:API webhook") from exc
    relationships = data.get("relationships") or {}
    letter_id = None
    for name in ("letter", "deliverable"):
        rel = (relationships.get(name) or {}).get("data") or {}
        if rel.get("id"):
            letter_id = str(rel["id"])
            break
    event_ref = ((relationships.get("event") or {}).get("data") or {}).get("id")
    included = [item for item in payload.get("included") or [] if isinstance(item, dict)]
    events = [item for item in included if item.get("type") in ("letters_events", "deliverables_events")]
    event = next((e for e in events if event_ref and e.get("id") == event_ref), events[0] if events else {})
    letter = next(
        (i for i in included if i.get("type") in ("letters", "deliverables") and i.get("id") == letter_id), {}
    )
    attributes = data.get("attributes") or {}
    event_attributes = event.get("attributes") or {}
    event_id = str(event.get("id") or event_ref or data.get("id") or "")
    occurred = _parse_time(event_attributes.get("emitted_at")) or _parse_time(attributes.get("created_at"))
    return JsonApiWebhook(
        data_type=data_type,
        letter_id=letter_id,
        event_id=event_id,
        code=str(event_attributes.get("code") or data_type.removeprefix("webhook_")),
        occurred_at=occurred or datetime.now(UTC),
        reason=attributes.get("reason") or event_attributes.get("name"),
        attributes=attributes,
        letter_attributes=letter.get("attributes") or {},
    )


def read_signed_webhook(signing_key: str, headers: dict[str, str], raw_body: bytes, *, sender: str) -> JsonApiWebhook:
    """Verify the `Signature` header over the raw body, then parse it; `InvalidSignature` when either fails.

    `sender` names the webhook's sender in the message ("signed body is not a <sender> webhook")."""
    lowered = {k.lower(): v for k, v in headers.items()}
    verify_hex_signature(signing_key, raw_body, lowered.get("signature"))
    try:
        return parse_jsonapi_webhook(raw_body)
    except ValueError as exc:
        raise InvalidSignature(f"signed body is not a {sender} webhook") from exc


def _split_street(line: str) -> tuple[str, str]:
    """'Bahnhofstrasse 12a' -> ('Bahnhofstrasse', '12a'); a line without a trailing number keeps it all."""
    head, _, tail = line.rpartition(" ")
    if head and any(ch.isdigit() for ch in tail):
        return head, tail
    return line, ""


def registered_recipient(address: Address) -> dict[str, str]:
    """`meta_data.recipient` for registered mail, within Pingen's limits (§1.3) or `missing_address_fields`."""
    street, number = _split_street(address.lines[0])
    recipient = {
        "name": address.name,
        "street": street,
        "number": number,
        "zip": address.postal_code or "",
        "city": address.city,
        "country": address.country.upper(),
    }
    problems = [
        f"{field} is longer than {limit} characters"
        for field, limit in REGISTERED_LIMITS.items()
        if len(recipient[field]) > limit
    ]
    problems += [f"{field} is missing" for field in ("name", "street", "zip", "city") if not recipient[field]]
    if problems:
        raise ProviderError(
            ProviderErrorCode.MISSING_ADDRESS_FIELDS,
            "The address does not fit Pingen's registered-mail fields: " + "; ".join(problems) + ".",
            fix=FIXES[ProviderErrorCode.MISSING_ADDRESS_FIELDS],
            details={"provider": "pingen", "fields": problems},
        )
    if not number:
        recipient.pop("number")
    return recipient


class PingenProvider(HttpAdapter):
    """Pingen v2 over httpx. One instance per org connection; tokens are cached per container."""

    name = "pingen"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        organisation_id: str,
        http: httpx.Client,
        api_url: str = LIVE_API,
        token_url: str = LIVE_IDENTITY,
        signing_key: str | None = None,
        scope: str = "letter",
        policy: RetryPolicy | None = None,
        token_cache: TokenCache | None = None,
    ):
        self._client_id = client_id
        self._client_secret = client_secret
        self._org = organisation_id
        self._api = api_url.rstrip("/")
        self._token_url = token_url.rstrip("/") + "/auth/access-tokens"
        self._signing_key = signing_key
        self._scope = scope
        self._http = ProviderHttp(http, self.name, policy)
        self._tokens = token_cache or _TOKENS
        self._token_key = (self._token_url, client_id)

    # --- auth -------------------------------------------------------------------------------------------------
    def _token(self) -> str:
        cached = self._tokens.get(self._token_key)
        if cached:
            return cached
        response = self._http.request(
            "POST",
            self._token_url,
            safe=True,  # a token request creates nothing
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": self._scope,
            },
        )
        if response.status_code in (400, 401, 403):
            # 403 at this step can also mean that the plan lacks the requested scope (§1.1).
            raise credentials_rejected(
                self.name,
                response,
                f"Pingen refused the client credentials (HTTP {response.status_code}, scope '{self._scope}').",
            )
        body = json_body(self._expect(response, 200))
        self._tokens.put(self._token_key, str(body["access_token"]), float(body.get("expires_in", 0)))
        return str(body["access_token"])

    def _api_call(
        self,
        method: str,
        path: str,
        *,
        idempotency_key: str | None = None,
        body: dict[str, Any] | None = None,
        side_effect_free: bool = False,
    ) -> httpx.Response:
        """One JSON:API call; re-authenticates once on 401 (the token may have been revoked before expiry).

        Retried on transient faults when repeating it is harmless: reads, an idempotency key, or a POST that only
        computes something (`side_effect_free`)."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": JSONAPI}
            if body is not None:
                headers["Content-Type"] = JSONAPI
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            response = self._http.request(
                method,
                f"{self._api}{path}",
                headers=headers,
                content=json.dumps(body).encode() if body is not None else None,
                safe=side_effect_free or method in ("GET", "PUT", "DELETE") or idempotency_key is not None,
            )
            if response.status_code != 401:
                return response
            self._tokens.drop(self._token_key)
            if attempt == 0:
                logger.info("pingen: token refused, re-authenticating once (request_id=%s)", request_id(response))
        raise credentials_rejected(self.name, response, "Pingen refused a fresh access token (HTTP 401).")

    # --- errors -----------------------------------------------------------------------------------------------
    def _error(self, response: httpx.Response, *, pricing: bool = False) -> ProviderError:
        """Map a JSON:API error response to a canonical `ProviderError` (§1.7, §5.3)."""
        errors = [e for e in json_body(response).get("errors") or [] if isinstance(e, dict)]
        first = errors[0] if errors else {}
        detail = str(
            first.get("detail") or first.get("details") or first.get("title") or f"HTTP {response.status_code}"
        )
        pointers = [
            str((e.get("source") or {}).get("pointer") or (e.get("source") or {}).get("parameter") or "")
            for e in errors
        ]
        details = error_details(
            self.name, response, provider_code=first.get("code"), pointers=[p for p in pointers if p]
        )
        status = response.status_code
        if status in (401, 403):
            return credentials_rejected(self.name, response, f"Pingen refused the request: {detail}")
        if status in (409, 410, 424):
            # 409: same idempotency key still in flight; 410: upload URL expired; 424: upstream dependency.
            return ProviderError(
                ProviderErrorCode.PROVIDER_UNAVAILABLE,
                f"Pingen: {detail}",
                retryable=True,
                fix="Nothing to do: the letter is retried.",
                details=details,
            )
        if status == 422:
            if pricing or any("delivery_product" in p or "country" in p for p in pointers):
                code = ProviderErrorCode.UNSUPPORTED_COUNTRY
            elif any("meta_data" in p or "address" in p for p in pointers):
                code = ProviderErrorCode.MISSING_ADDRESS_FIELDS
            else:
                code = ProviderErrorCode.FORMAT_ERROR
        elif status == 402:
            code = ProviderErrorCode.INSUFFICIENT_CREDIT
        else:
            code = ProviderErrorCode.REJECTED_BY_PROVIDER
        return ProviderError(code, f"Pingen rejected the request: {detail}", fix=FIXES[code], details=details)

    # --- letters ----------------------------------------------------------------------------------------------
    def stage(self, submission: LetterSubmission) -> dict[str, str]:
        """Upload the PDF once for this letter: `{url, url_signature, expires_at}`. Dispatch keeps it on the letter
        and hands it back on every retry, so a repeat of the create is the same request under the same key."""
        upload = self._expect(self._api_call("GET", "/file-upload"), 200)
        attrs = as_dict(as_dict(json_body(upload).get("data")).get("attributes"))
        url, signature = attrs.get("url"), attrs.get("url_signature")
        if not isinstance(url, str) or not isinstance(signature, str):
            raise ProviderError(
                ProviderErrorCode.PROVIDER_UNAVAILABLE,
                "Pingen answered the upload request without a URL.",
                fix="Nothing to do: the letter is retried.",
                retryable=True,
                details=error_details(self.name, upload),
            )
        # The presigned URL carries its own authorisation: a bearer token here would be rejected (and leaked).
        put = self._http.request(
            "PUT", url, safe=True, content=submission.pdf, headers={"Content-Type": "application/pdf"}
        )
        if put.status_code not in (200, 201, 204):
            raise ProviderError(
                ProviderErrorCode.PROVIDER_UNAVAILABLE,
                f"PDF upload failed (HTTP {put.status_code}).",
                fix="Nothing to do: the letter is retried.",
                retryable=True,
                details={"provider": self.name, "status": put.status_code},
            )
        return {"url": url, "url_signature": signature, "expires_at": str(attrs.get("expires_at") or "")}

    def submit(self, submission: LetterSubmission) -> SubmitResult:
        """Create the letter with auto_send from the staged upload (uploading now if none was handed in); a repeat
        with the same letter_id is replayed by Pingen."""
        product = DELIVERY_PRODUCT.get(submission.postage)
        if product is None:
            raise ProviderError(
                ProviderErrorCode.POSTAGE_NOT_SUPPORTED,
                f"Pingen offers no {submission.postage.value} postage.",
                fix="Choose registered (Pingen has no return receipt) or another provider.",
                details={"provider": self.name, "postage": submission.postage.value},
            )
        attributes: dict[str, Any] = {
            "file_original_name": submission.file_name,
            "address_position": submission.address_position,
            "auto_send": True,
            "delivery_product": product,
            "print_mode": "duplex" if submission.duplex else "simplex",
            "print_spectrum": "color" if submission.color else "grayscale",
        }
        if submission.postage is Postage.REGISTERED:
            # Only for registered: other products can fail validation on long ZIPs in meta_data (§1.3).
            attributes["meta_data"] = {"recipient": registered_recipient(submission.recipient)}
        staged = submission.staged or self.stage(submission)
        attributes["file_url"] = staged["url"]
        attributes["file_url_signature"] = staged["url_signature"]
        response = self._api_call(
            "POST",
            f"/organisations/{self._org}/deliveries/letters",
            idempotency_key=submission.letter_id,
            body={"data": {"type": "letters", "attributes": attributes}},
        )
        self._expect(response, 200, 201)
        if response.headers.get("idempotent-replayed"):
            logger.info("pingen: letter replayed for an idempotency key (request_id=%s)", request_id(response))
        return self._submit_result(as_dict(json_body(response).get("data")), response)

    def _submit_result(self, data: dict[str, Any], response: httpx.Response) -> SubmitResult:
        if not isinstance(data.get("id"), str) or not data["id"]:
            # Accepted (2xx) but unreadable: the letter exists. The same key replays it on the next attempt.
            raise ProviderError(
                ProviderErrorCode.PROVIDER_UNAVAILABLE,
                "Pingen accepted the letter but its answer could not be read; it is asked again under the same key.",
                fix="Nothing to do: the letter is retried.",
                retryable=True,
                details=error_details(self.name, response, ambiguous=True, reason="unreadable_answer"),
            )
        attrs = as_dict(data.get("attributes"))
        raw = str(attrs.get("status") or "validating")
        price = _decimal(attrs.get("price_value"))
        currency = attrs.get("price_currency")
        return SubmitResult(
            provider_letter_id=str(data["id"]),
            status=STATUS_MAP.get(raw) or LetterStatus.SUBMITTED,
            raw_status=raw,
            price=price,
            currency=currency if isinstance(currency, str) and price is not None else None,
        )

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:  # noqa: ARG002 (the Protocol's signature)
        """Always None: Pingen cannot be searched by our reference. Exactly-once comes from the Idempotency-Key
        (= letter_id) on the create call, so calling `submit` again is the lookup: Pingen replays the letter it
        already holds for that key instead of creating another."""
        return None

    def get(self, provider_letter_id: str) -> ProviderLetter:
        """The letter's current status at Pingen."""
        response = self._api_call("GET", f"/organisations/{self._org}/deliveries/letters/{provider_letter_id}")
        attrs = as_dict(as_dict(json_body(self._expect(response, 200)).get("data")).get("attributes"))
        raw = str(attrs.get("status") or "")
        tracking = attrs.get("tracking_number")
        return ProviderLetter(
            provider_letter_id=provider_letter_id,
            status=STATUS_MAP.get(raw),
            raw_status=raw,
            tracking_number=str(tracking)
            if isinstance(tracking, str | int) and not isinstance(tracking, bool)
            else None,
        )

    def cancel(self, provider_letter_id: str) -> None:
        """Request cancellation; the outcome arrives as `cancelled` (or `cancellation_rejected`) later."""
        response = self._api_call(
            "PATCH",
            f"/organisations/{self._org}/deliveries/letters/{provider_letter_id}/cancel",
            idempotency_key=f"cancel-{provider_letter_id}",
        )
        if response.status_code in (409, 422):
            error = self._error(response)
            raise ProviderError(
                ProviderErrorCode.REJECTED_BY_PROVIDER,
                f"Pingen can no longer cancel this letter: {error.message}",
                fix="Nothing to undo: the letter is already in production or sent.",
                details=error.details,
            )
        self._expect(response, 200, 202, 204)

    def _product(self, postage: Postage) -> str:
        product = DELIVERY_PRODUCT.get(postage)
        if product is None:
            raise ProviderError(
                ProviderErrorCode.POSTAGE_NOT_SUPPORTED,
                f"Pingen offers no {postage.value} postage.",
                fix="Choose registered (Pingen has no return receipt) or another provider.",
                details={"provider": self.name, "postage": postage.value},
            )
        return product

    def quote(self, request: PriceRequest) -> PriceQuote:
        """Ask the price calculator; pages are listed as one `paper_types` entry each (unconfirmed, §1.5)."""
        body = {
            "data": {
                "type": "letter_price_calculator",
                "attributes": {
                    "country": request.country.upper(),
                    "paper_types": ["normal"] * request.pages,
                    "print_mode": "duplex" if request.duplex else "simplex",
                    "print_spectrum": "color" if request.color else "grayscale",
                    "delivery_product": self._product(request.postage),
                },
            }
        }
        response = self._api_call(
            "POST", f"/organisations/{self._org}/deliveries/letters/price-calculator", body=body, side_effect_free=True
        )
        if response.status_code != 200:
            raise self._error(response, pricing=True)
        attrs = as_dict(as_dict(json_body(response).get("data")).get("attributes"))
        amount = _decimal(attrs.get("price"))
        if amount is None or not isinstance(attrs.get("currency"), str):
            raise ProviderError(
                ProviderErrorCode.PROVIDER_UNAVAILABLE,
                "Pingen answered the price request without a readable price.",
                fix="Try again later; if it persists, the price calculator changed: report it.",
                retryable=True,
                details=error_details(self.name, response),
            )
        return PriceQuote(
            amount=amount, currency=str(attrs["currency"]), total=amount * request.volume, source="provider"
        )

    # --- webhooks ---------------------------------------------------------------------------------------------
    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        """Verify `Signature` (HMAC-SHA256 of the raw body) and map the event (§1.6, §5.1)."""
        if not self._signing_key:
            raise InvalidSignature("no webhook signing key configured for Pingen")
        hook = read_signed_webhook(self._signing_key, headers, raw_body, sender="Pingen")
        status, error_code, fix = map_webhook(hook)
        details: dict[str, Any] = {"event_code": hook.code, "webhook_type": hook.data_type}
        letter_status = hook.letter_attributes.get("status")
        if isinstance(letter_status, str):
            details["letter_status"] = letter_status
        if hook.attributes.get("corrected_address"):
            details["corrected_address"] = hook.attributes["corrected_address"]
        return [
            WebhookEvent(
                provider=self.name,
                event_id=f"{hook.event_id}:{hook.letter_id}",
                provider_letter_id=hook.letter_id,
                status=status,
                raw_status=hook.code,
                occurred_at=hook.occurred_at,
                reason=hook.reason,
                error_code=error_code,
                fix=fix,
                details=details,
            )
        ]


def map_webhook(hook: JsonApiWebhook) -> tuple[LetterStatus | None, str | None, str | None]:
    """(status, error code, fix) of a Pingen webhook: the event code first; then the letter status it carries. An
    event that maps to no status on a letter in a problem status is `failed` (`provider_problem`), never silent."""
    if hook.data_type == "webhook_issues":
        status, error_code = ISSUE_MAP.get(hook.code, (None, None))
    else:
        status = WEBHOOK_STATUS.get(hook.data_type)
        error_code = ProviderErrorCode.UNDELIVERABLE if status is LetterStatus.UNDELIVERABLE else None
    letter_status = str(hook.letter_attributes.get("status") or "")
    if status is None and letter_status in PROBLEM_STATUSES:
        status = LetterStatus.FAILED
        error_code = STATUS_ERROR.get(letter_status) if hook.code in ISSUE_MAP else ProviderErrorCode.PROVIDER_PROBLEM
        error_code = error_code or ProviderErrorCode.PROVIDER_PROBLEM
    fix = ISSUE_FIXES.get(hook.code) or (FIXES.get(error_code) if error_code else None)
    return status, error_code, fix


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None

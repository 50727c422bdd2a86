"""PostGrid Print & Mail adapter (providers.md §2): x-api-key, multipart letter upload, signed JSON webhooks.

Exactly-once, two layers: every create carries `Idempotency-Key: <our letter_id>` (PostGrid replays the first
letter for a reused key: postgrid-python `letters.create(idempotency_key=...)`, observed in test mode), and every
letter carries our `letter_id` in `metadata` and `description`, so `submit` searches for it first and an ambiguous
create (5xx, timeout, dropped response) is looked up before it is repeated (`LookupFirstAdapter`). A search index
that lags behind a create is covered by the key.

Webhooks come in either payload format (postgrid-python `webhooks.create(payload_format="jwt"|"json")`): a JWT
signed HS256 with the webhook secret (verified with PyJWT), or JSON with `PostGrid-Signature: t=<ts>,v1=<hex>`,
where `t` is milliseconds in PostGrid's guide and seconds in its API reference: both are accepted, within
`SIGNATURE_TOLERANCE_S`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from postal.codes import Code, fix_for
from postal.errors import InvalidSignature, ProviderError, UnreadableAnswer
from postal.models import Address, LetterStatus, Postage
from postal.providers.base import LetterSubmission, PriceQuote, PriceRequest, SubmitResult, WebhookEvent, as_dict
from postal.providers.http import ProviderHttp, RetryPolicy, error_details, json_body
from postal.providers.lookup_first import LookupFirstAdapter
from postal.providers.prices import price_table

PROVIDER = "PostGrid"  # as the fixes name it

BASE_URL = "https://api.postgrid.com"
LETTERS = "/print-mail/v1/letters"
SIGNATURE_TOLERANCE_S = 300
# A `t` above this is milliseconds (10^11 s is the year 5138; 10^11 ms is 1973).
MS_THRESHOLD = 10**11
# PostGrid stamps both addresses over the top of page 1 with `top_first_page`. The region's size is unconfirmed
# (the S code assumes the top 3.5 in) and our us10 layout starts the body at 85.7 mm, inside it: content could be
# covered. A separate address page costs one sheet more but never hides anything (address-geometry.md).
ADDRESS_PLACEMENT = "insert_blank_page"

# Field names that, quoted in a validation message, mean the contact (to/from) was refused.
ADDRESS_FIELDS = ("addressLine1", "countryCode", "firstName", "companyName", "postalOrZip", "provinceOrState")

STATUS_MAP: dict[str, LetterStatus] = {
    "ready": LetterStatus.ACCEPTED,
    "printing": LetterStatus.PRINTING,
    "processed_for_delivery": LetterStatus.SENT,
    "completed": LetterStatus.DELIVERED,  # estimated delivery (§5.1): a later return may still arrive
}
IMB_MAP: dict[str, LetterStatus] = {
    "entered_mail_stream": LetterStatus.SENT,
    "out_for_delivery": LetterStatus.SENT,
    "returned_to_sender": LetterStatus.UNDELIVERABLE,
}


def mailing_class(postage: Postage, country: str) -> str:
    """§5.2; USPS-only classes outside the US are refused with `unsupported_country`."""
    us = country.upper() == "US"
    if postage is Postage.PRIORITY:
        return "first_class"
    if postage is Postage.REGISTERED:
        return "certified" if us else "registered"
    if us:
        return "standard_class" if postage is Postage.ECONOMY else "certified_return_receipt"
    raise ProviderError(
        Code.UNSUPPORTED_COUNTRY,
        f"PostGrid offers no {postage.value} postage to {country} (US only).",
        fix=fix_for(Code.UNSUPPORTED_COUNTRY, PROVIDER),
        details={"provider": "postgrid", "country": country, "postage": postage.value},
    )


def map_letter(letter: dict[str, Any]) -> tuple[LetterStatus | None, str, str | None]:
    """(canonical status, raw status, error code) of a PostGrid letter object, `imbStatus` included."""
    status = str(letter.get("status") or "")
    imb = str(letter.get("imbStatus") or "")
    raw = f"{status}/{imb}" if imb else status
    if imb == "returned_to_sender":  # also after `completed`, which was only an estimate
        return LetterStatus.UNDELIVERABLE, raw, Code.UNDELIVERABLE
    if status == "cancelled":
        reason = str((letter.get("cancellation") or {}).get("reason") or "user_initiated")
        if reason == "user_initiated":
            return LetterStatus.CANCELLED, f"cancelled/{reason}", None
        return LetterStatus.FAILED, f"cancelled/{reason}", Code.REJECTED_BY_PROVIDER
    mapped = STATUS_MAP.get(status)
    imb_mapped = IMB_MAP.get(imb)
    order = list(LetterStatus)
    if imb_mapped and (mapped is None or order.index(imb_mapped) > order.index(mapped)):
        mapped = imb_mapped
    return mapped, raw, None


def _contact(prefix: str, address: Address) -> dict[str, str]:
    fields = {
        "firstName": address.name,
        "addressLine1": address.lines[0],
        "addressLine2": ", ".join(address.lines[1:]),
        "city": address.city,
        "provinceOrState": address.region or "",
        "postalOrZip": address.postal_code or "",
        "countryCode": address.country.upper(),
        "companyName": address.company or "",
    }
    return {f"{prefix}[{key}]": value for key, value in fields.items() if value}


class PostGridProvider(LookupFirstAdapter):
    """PostGrid over httpx. The key's prefix says the mode: `test_` never prints, `live_` does."""

    name = "postgrid"
    letters_path = LETTERS
    tracking_field = "trackingNumber"

    def __init__(
        self,
        *,
        api_key: str,
        http: httpx.Client,
        base_url: str = BASE_URL,
        webhook_secret: str | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._key = api_key
        self.live = api_key.startswith("live_")
        self._base = base_url.rstrip("/")
        self._secret = webhook_secret
        self._policy = policy or RetryPolicy()
        self._http = ProviderHttp(http, self.name, self._policy)
        self._clock = clock

    def _call(self, method: str, path: str, *, safe: bool, **kwargs: Any) -> httpx.Response:
        response = self._http.request(
            method,
            f"{self._base}{path}",
            safe=safe,
            headers={"x-api-key": self._key, "Accept": "application/json", **kwargs.pop("headers", {})},
            **kwargs,
        )
        return self._authorised(response, "PostGrid refused the API key")

    def _error(self, response: httpx.Response) -> ProviderError:
        """`{"error":{"type","message"}}` to a canonical code (§2.6, §5.3)."""
        error = json_body(response).get("error") or {}
        kind = str(error.get("type") or "")
        message = str(error.get("message") or f"HTTP {response.status_code}")
        if "pdf" in kind or "file" in kind or "page" in kind:
            code = Code.FORMAT_ERROR
        elif "contact" in kind or "address" in kind or any(f in message for f in ADDRESS_FIELDS):
            code = Code.MISSING_ADDRESS_FIELDS
        elif "payment" in kind or "billing" in kind or response.status_code == 402:
            code = Code.INSUFFICIENT_CREDIT
        elif "mailing_class" in kind:
            code = Code.UNSUPPORTED_COUNTRY
        else:
            code = Code.REJECTED_BY_PROVIDER
        return ProviderError(
            code,
            f"PostGrid rejected the request: {message}",
            fix=fix_for(code, PROVIDER),
            details=error_details(self.name, response, provider_code=kind),
        )

    @staticmethod
    def _map(letter: dict[str, Any]) -> tuple[LetterStatus | None, str, str | None]:
        return map_letter(letter)

    def _result(self, letter: dict[str, Any]) -> SubmitResult:
        letter_id = letter.get("id")
        if not isinstance(letter_id, str) or not letter_id.startswith("letter_"):
            raise UnreadableAnswer("PostGrid answer without a letter id")
        status, raw, _ = map_letter(letter)
        return SubmitResult(provider_letter_id=letter_id, status=status or LetterStatus.SUBMITTED, raw_status=raw)

    def _cancellable(self, letter: dict[str, Any]) -> bool:
        return letter.get("status") == "ready"

    def _create_headers(self, submission: LetterSubmission) -> dict[str, str]:
        return {"Idempotency-Key": submission.letter_id}

    def submit(self, submission: LetterSubmission) -> SubmitResult:
        """Look up our letter_id, then create; after an ambiguous create, look up again before repeating."""
        if submission.sender is None:
            raise ProviderError(
                Code.MISSING_ADDRESS_FIELDS,
                "PostGrid needs a sender (return) address.",
                fix="Set the organisation's sender address in its branding.",
                details={"provider": self.name, "fields": ["from"]},
            )
        country = submission.recipient.country.upper()
        data = {
            **_contact("to", submission.recipient),
            **_contact("from", submission.sender),
            "addressPlacement": ADDRESS_PLACEMENT,
            "color": "true" if submission.color else "false",
            "doubleSided": "true" if submission.duplex else "false",
            "size": "a4" if country == "GB" else "us_letter",
            "mailingClass": mailing_class(submission.postage, country),
        }
        return self._lookup_or_create(submission, data, pdf_field="pdf")

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:
        """The newest PostGrid letter whose metadata carries our letter_id (searched, then checked exactly)."""
        response = self._expect(self._call("GET", LETTERS, safe=True, params={"search": letter_id, "limit": 10}), 200)
        matches = [
            item
            for item in json_body(response).get("data") or []
            if isinstance(item, dict) and (item.get("metadata") or {}).get("letter_id") == letter_id
        ]
        if not matches:
            return None
        matches.sort(key=lambda item: str(item.get("createdAt") or ""), reverse=True)
        for item in matches:
            try:
                return self._result(item)
            except UnreadableAnswer:
                continue
        return None

    def quote(self, request: PriceRequest) -> PriceQuote:
        """From the configured price table: PostGrid has no price endpoint (§2.3)."""
        mailing_class(request.postage, request.country)  # same coverage rules as submit
        return price_table(self.name).quote(request, provider=self.name)

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        """Verify either payload format and map a `letter.*` event; `InvalidSignature` when nothing verifies."""
        if not self._secret:
            raise InvalidSignature("no webhook secret configured for PostGrid")
        lowered = {k.lower(): v for k, v in headers.items()}
        header = lowered.get("postgrid-signature")
        payload = self._verified_json(header, raw_body) if header else self._verified_jwt(raw_body)
        return self._events(payload)

    def _verified_json(self, header: str, raw_body: bytes) -> dict[str, Any]:
        """`json` format: HMAC-SHA256 over "<t>.<raw body>" (the guide's steps) or over the raw body (its
        summary); `t` in seconds or milliseconds, within the replay window."""
        parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
        t, given = parts.get("t", ""), parts.get("v1", "")
        if not t.isdigit() or not given or len(t) > 16:
            raise InvalidSignature("malformed PostGrid-Signature")
        sent_at = int(t) / 1000 if int(t) >= MS_THRESHOLD else int(t)
        if abs(self._clock() - sent_at) > SIGNATURE_TOLERANCE_S:
            raise InvalidSignature("stale PostGrid-Signature timestamp")
        assert self._secret is not None
        key = self._secret.encode()
        candidates = (
            hmac.new(key, t.encode() + b"." + raw_body, hashlib.sha256).hexdigest(),
            hmac.new(key, raw_body, hashlib.sha256).hexdigest(),
        )
        # Evaluate both comparisons so timing does not reveal which variant matched.
        matches = [hmac.compare_digest(c, given.strip().lower()) for c in candidates]
        if not any(matches):
            raise InvalidSignature("PostGrid-Signature does not match")
        try:
            payload = json.loads(raw_body)
        except ValueError as exc:
            raise InvalidSignature("signed body is not JSON") from exc
        if not isinstance(payload, dict):
            raise InvalidSignature("signed body is not a JSON object")
        return payload

    def _verified_jwt(self, raw_body: bytes) -> dict[str, Any]:
        """`jwt` format: the body is a compact JWT (HS256, the webhook secret); it must carry `exp` or `iat`, and
        is refused outside the replay window. Unconfirmed whether PostGrid wraps it (`{"payload": "<jwt>"}`):
        both are read."""
        token = raw_body.decode("utf-8", errors="replace").strip()
        if token.startswith("{"):
            try:
                wrapped = json.loads(token)
            except ValueError as exc:
                raise InvalidSignature("unsigned PostGrid webhook (no PostGrid-Signature, no JWT)") from exc
            token = str(wrapped.get("payload") or wrapped.get("token") or "") if isinstance(wrapped, dict) else ""
        if token.count(".") != 2:
            raise InvalidSignature("unsigned PostGrid webhook (no PostGrid-Signature, no JWT)")
        assert self._secret is not None
        try:
            # The signature and algorithm are PyJWT's; the time claims are checked below against our clock.
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidSignature(f"PostGrid JWT does not verify ({type(exc).__name__})") from exc
        issued, expires = claims.get("iat"), claims.get("exp")
        now = self._clock()
        if not isinstance(issued, int | float) and not isinstance(expires, int | float):
            raise InvalidSignature("PostGrid JWT carries neither exp nor iat (replay cannot be bounded)")
        if isinstance(expires, int | float) and now > expires + SIGNATURE_TOLERANCE_S:
            raise InvalidSignature("stale PostGrid JWT (expired)")
        if isinstance(issued, int | float) and abs(now - issued) > SIGNATURE_TOLERANCE_S:
            raise InvalidSignature("stale PostGrid JWT")
        # The event may be the claims themselves or nested under `data`/`payload` of the claims.
        nested = claims.get("payload")
        return nested if isinstance(nested, dict) and "data" in nested else claims

    def _events(self, payload: dict[str, Any]) -> list[WebhookEvent]:
        letter = as_dict(payload.get("data"))
        if not isinstance(letter.get("id"), str) or not letter["id"]:
            return []
        status, raw, error_code = map_letter(letter)
        cancellation = as_dict(letter.get("cancellation"))
        occurred = letter.get("updatedAt") or payload.get("createdAt")
        try:
            occurred_at = datetime.fromisoformat(str(occurred).replace("Z", "+00:00"))
        except ValueError:
            occurred_at = datetime.now(UTC)
        if occurred_at.tzinfo is None:
            occurred_at = occurred_at.replace(tzinfo=UTC)
        metadata = as_dict(letter.get("metadata"))
        event_id = payload.get("id") or f"{letter['id']}:{raw}:{occurred}"
        reason = cancellation.get("note") or cancellation.get("reason")
        return [
            WebhookEvent(
                provider=self.name,
                event_id=str(event_id),
                provider_letter_id=str(letter["id"]),
                letter_id=metadata.get("letter_id"),
                status=status,
                raw_status=raw,
                occurred_at=occurred_at,
                reason=str(reason) if reason else None,
                error_code=error_code,
                details={"event_type": payload.get("type"), "live": letter.get("live")},
            )
        ]

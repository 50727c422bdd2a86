"""The Pingen API v2 client: tokens, JSON:API calls, upload and submit, get, cancel, quote, webhooks."""

from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from postal.codes import Code, fix_for
from postal.errors import InvalidSignature, ProviderError
from postal.models import LetterStatus, Postage
from postal.providers.base import (
    LetterSubmission,
    PriceQuote,
    PriceRequest,
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
from postal.providers.pingen.events import PROVIDER, STATUS_MAP, map_webhook, read_signed_webhook
from postal.providers.pingen.recipient import DELIVERY_PRODUCT, registered_recipient
from postal.providers.pingen.tokens import _TOKENS, TokenCache

logger = logging.getLogger(__name__)


LIVE_API = "https://api.pingen.com"


LIVE_IDENTITY = "https://identity.pingen.com"


STAGING_API = "https://api-staging.pingen.com"


STAGING_IDENTITY = "https://identity-staging.pingen.com"


JSONAPI = "application/vnd.api+json"


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
                Code.PROVIDER_UNAVAILABLE,
                f"Pingen: {detail}",
                retryable=True,
                fix="Nothing to do: the letter is retried.",
                details=details,
            )
        if status == 422:
            if pricing or any("delivery_product" in p or "country" in p for p in pointers):
                code = Code.UNSUPPORTED_COUNTRY
            elif any("meta_data" in p or "address" in p for p in pointers):
                code = Code.MISSING_ADDRESS_FIELDS
            else:
                code = Code.FORMAT_ERROR
        elif status == 402:
            code = Code.INSUFFICIENT_CREDIT
        else:
            code = Code.REJECTED_BY_PROVIDER
        return ProviderError(
            code, f"Pingen rejected the request: {detail}", fix=fix_for(code, PROVIDER), details=details
        )

    # --- letters ----------------------------------------------------------------------------------------------
    def stage(self, submission: LetterSubmission) -> dict[str, str]:
        """Upload the PDF once for this letter: `{url, url_signature, expires_at}`. Dispatch keeps it on the letter
        and hands it back on every retry, so a repeat of the create is the same request under the same key."""
        upload = self._expect(self._api_call("GET", "/file-upload"), 200)
        attrs = as_dict(as_dict(json_body(upload).get("data")).get("attributes"))
        url, signature = attrs.get("url"), attrs.get("url_signature")
        if not isinstance(url, str) or not isinstance(signature, str):
            raise ProviderError(
                Code.PROVIDER_UNAVAILABLE,
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
                Code.PROVIDER_UNAVAILABLE,
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
                Code.POSTAGE_NOT_SUPPORTED,
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
                Code.PROVIDER_UNAVAILABLE,
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
                Code.REJECTED_BY_PROVIDER,
                f"Pingen can no longer cancel this letter: {error.message}",
                fix="Nothing to undo: the letter is already in production or sent.",
                details=error.details,
            )
        self._expect(response, 200, 202, 204)

    def _product(self, postage: Postage) -> str:
        product = DELIVERY_PRODUCT.get(postage)
        if product is None:
            raise ProviderError(
                Code.POSTAGE_NOT_SUPPORTED,
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
                Code.PROVIDER_UNAVAILABLE,
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


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None

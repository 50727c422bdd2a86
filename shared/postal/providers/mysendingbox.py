"""MySendingBox adapter (providers.md §3): Basic auth (key, ""), multipart letters, unsigned webhooks.

Exactly-once: no idempotency key was found (§3.4). Every letter carries our `letter_id` in `metadata` and
`description`; `submit` lists letters filtered by that metadata first, creates only when none is found, and after
an ambiguous create (5xx, timeout, dropped response) looks up again before repeating (`LookupFirstAdapter`).

Webhooks are unsigned (§3.4): the HTTP layer must check a per-org secret token in the webhook URL with
`verify_url_token`, and should confirm state with `get` before acting on it.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from babel import Locale

from postal.models import Address, LetterStatus, Postage
from postal.providers.base import (
    InvalidSignature,
    LetterSubmission,
    PriceQuote,
    PriceRequest,
    ProviderError,
    ProviderErrorCode,
    SubmitResult,
    WebhookEvent,
)
from postal.providers.http import ProviderHttp, RetryPolicy, error_details, json_body
from postal.providers.lookup_first import LookupFirstAdapter, reference_description

BASE_URL = "https://api.mysendingbox.fr"
# MySendingBox wants a country *name* (§3.2); its examples use "France". English names are assumed for other
# countries (unconfirmed: verify in staging).
COUNTRY_LOCALE = Locale("en")
# Our renderer puts the recipient into the page-1 window zone (zone `fr-practice`), so the first page is used as
# the address carrier. MySendingBox's own zone is unpublished (§3.3): if staging shows it overprinting, switch to
# `insert_blank_page` (one sheet more).
ADDRESS_PLACEMENT = "first_page"

POSTAGE_TYPE = {
    Postage.ECONOMY: "ecopli",
    Postage.PRIORITY: "prioritaire",
    Postage.REGISTERED: "lr",
    Postage.REGISTERED_WITH_RECEIPT: "lrar",
}
EVENT_MAP: dict[str, tuple[LetterStatus | None, str | None]] = {
    "letter.created": (LetterStatus.SUBMITTED, None),
    "letter.accepted": (LetterStatus.ACCEPTED, None),
    **dict.fromkeys(
        ("letter.filing_proof", "letter.sent", "letter.in_transit", "letter.waiting_to_be_withdrawn"),
        (LetterStatus.SENT, None),
    ),
    "letter.distributed": (LetterStatus.DELIVERED, None),
    "letter.delivery_proof": (LetterStatus.DELIVERED, None),
    **dict.fromkeys(
        ("letter.returned_to_sender", "letter.return_to_sender_proof", "letter.wrong_address", "letter.lost"),
        (LetterStatus.UNDELIVERABLE, ProviderErrorCode.UNDELIVERABLE),
    ),
    "letter.error": (LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
    "letter.canceled": (LetterStatus.CANCELLED, None),
}
TRACKING_MAP: dict[str, tuple[LetterStatus | None, str | None]] = {
    "PRIS_EN_CHARGE": (LetterStatus.SENT, None),
    "A_RETIRER": (LetterStatus.SENT, None),
    "DISTRIBUE": (LetterStatus.DELIVERED, None),
    "RETOUR_DESTINATAIRE": (LetterStatus.UNDELIVERABLE, ProviderErrorCode.UNDELIVERABLE),
    "INCONNU": (None, None),
}
FIXES = {
    ProviderErrorCode.MISSING_ADDRESS_FIELDS: "Complete the customer's address (street, postal code, city, country).",
    ProviderErrorCode.UNSUPPORTED_COUNTRY: "Correct the country if it is wrong; otherwise choose another postage, "
    "send by email or use a provider that covers the country.",
    ProviderErrorCode.FORMAT_ERROR: "Fix the template as the check report says; then re-render.",
    ProviderErrorCode.INSUFFICIENT_CREDIT: "Top up the MySendingBox account.",
    ProviderErrorCode.REJECTED_BY_PROVIDER: "Read MySendingBox's reason shown with the error; change the content or "
    "options, then send again.",
}


def verify_url_token(expected: str, given: str | None) -> None:
    """Check the per-org secret carried in the webhook URL (MySendingBox signs nothing); constant-time."""
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise InvalidSignature("webhook URL token does not match")


def country_name(code: str) -> str:
    """ISO alpha-2 to the country name MySendingBox expects ("FR" -> "France")."""
    name = COUNTRY_LOCALE.territories.get(code.upper())
    if not name:
        raise ProviderError(
            ProviderErrorCode.MISSING_ADDRESS_FIELDS,
            f"Unknown country code {code!r}.",
            fix=FIXES[ProviderErrorCode.MISSING_ADDRESS_FIELDS],
            details={"provider": "mysendingbox", "fields": ["country"]},
        )
    return name


def postage_type(postage: Postage, country: str) -> str:
    """§5.2; Ecopli is a French domestic product, so economy elsewhere is `unsupported_country`."""
    if postage is Postage.ECONOMY and country.upper() != "FR":
        raise ProviderError(
            ProviderErrorCode.UNSUPPORTED_COUNTRY,
            f"MySendingBox offers economy (ecopli) only within France, not to {country}.",
            fix=FIXES[ProviderErrorCode.UNSUPPORTED_COUNTRY],
            details={"provider": "mysendingbox", "country": country, "postage": postage.value},
        )
    return POSTAGE_TYPE[postage]


def map_letter(letter: dict[str, Any]) -> tuple[LetterStatus | None, str, str | None]:
    """(status, raw, error code) of a letter object: flags first, then the furthest event or tracking step."""
    if letter.get("error"):
        return LetterStatus.FAILED, "error", ProviderErrorCode.REJECTED_BY_PROVIDER
    if letter.get("wrong_address"):
        return LetterStatus.UNDELIVERABLE, "wrong_address", ProviderErrorCode.UNDELIVERABLE
    best: tuple[LetterStatus | None, str, str | None] = (LetterStatus.SUBMITTED, "created", None)
    order = list(LetterStatus)
    steps = [(EVENT_MAP.get(str(e.get("name"))), str(e.get("name"))) for e in letter.get("events") or []]
    steps += [
        (TRACKING_MAP.get(str(e.get("status"))), str(e.get("status"))) for e in letter.get("tracking_events") or []
    ]
    for mapped, raw in steps:
        if mapped and mapped[0] and (best[0] is None or order.index(mapped[0]) >= order.index(best[0])):
            best = (mapped[0], raw, mapped[1])
    return best


def _recipient_fields(address: Address) -> dict[str, str]:
    fields = {
        "name": address.name,
        "company": address.company or "",
        "address_city": address.city,
        "address_postalcode": address.postal_code or "",
        "address_country": country_name(address.country),
    }
    for index, line in enumerate(address.lines, start=1):
        fields[f"address_line{index}"] = line
    if not fields["address_postalcode"]:
        raise ProviderError(
            ProviderErrorCode.MISSING_ADDRESS_FIELDS,
            "MySendingBox needs a postal code.",
            fix=FIXES[ProviderErrorCode.MISSING_ADDRESS_FIELDS],
            details={"provider": "mysendingbox", "fields": ["postal_code"]},
        )
    return {f"to[{key}]": value for key, value in fields.items() if value}


class MySendingBoxProvider(LookupFirstAdapter):
    """MySendingBox over httpx. `test_` keys never print; both modes share the host."""

    name = "mysendingbox"
    letters_path = "/letters"
    tracking_field = "tracking_number"

    def __init__(
        self, *, api_key: str, http: httpx.Client, base_url: str = BASE_URL, policy: RetryPolicy | None = None
    ):
        self._auth = httpx.BasicAuth(api_key, "")
        self.live = not api_key.startswith("test_")
        self._base = base_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._http = ProviderHttp(http, self.name, self._policy)

    def _call(self, method: str, path: str, *, safe: bool, **kwargs: Any) -> httpx.Response:
        response = self._http.request(
            method, f"{self._base}{path}", safe=safe, auth=self._auth, headers={"Accept": "application/json"}, **kwargs
        )
        return self._authorised(response, "MySendingBox refused the API key")

    def _error(self, response: httpx.Response) -> ProviderError:
        """`{"error":{"message"}}` to a canonical code (§3.4, §5.3)."""
        message = str((json_body(response).get("error") or {}).get("message") or f"HTTP {response.status_code}")
        lowered = message.lower()
        if response.status_code == 422 and ("to[" in lowered or "to." in lowered or "address" in lowered):
            code = ProviderErrorCode.MISSING_ADDRESS_FIELDS
        elif "pdf" in lowered or "file" in lowered or "page" in lowered:
            code = ProviderErrorCode.FORMAT_ERROR
        elif "credit" in lowered or "balance" in lowered or response.status_code == 402:
            code = ProviderErrorCode.INSUFFICIENT_CREDIT
        elif "postage" in lowered or "country" in lowered:
            code = ProviderErrorCode.UNSUPPORTED_COUNTRY
        else:
            code = ProviderErrorCode.REJECTED_BY_PROVIDER
        return ProviderError(
            code,
            f"MySendingBox rejected the request: {message}",
            fix=FIXES[code],
            details=error_details(self.name, response),
        )

    @staticmethod
    def _map(letter: dict[str, Any]) -> tuple[LetterStatus | None, str, str | None]:
        return map_letter(letter)

    def _result(self, letter: dict[str, Any]) -> SubmitResult:
        status, raw, _ = map_letter(letter)
        price = letter.get("price")
        return SubmitResult(
            provider_letter_id=str(letter["_id"]),
            status=status or LetterStatus.SUBMITTED,
            raw_status=raw,
            price=Decimal(str(price)) if price is not None else None,
            currency="EUR" if price is not None else None,
        )

    def submit(self, submission: LetterSubmission) -> SubmitResult:
        """Look up our letter_id, then create; after an ambiguous create, look up again before repeating."""
        data = {
            **_recipient_fields(submission.recipient),
            "source_file_type": "file",
            "color": "color" if submission.color else "bw",
            "postage_type": postage_type(submission.postage, submission.recipient.country),
            "both_sides": "true" if submission.duplex else "false",
            "address_placement": ADDRESS_PLACEMENT,
        }
        return self._lookup_or_create(submission, data, pdf_field="source_file")

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:
        """The letter whose metadata carries our letter_id (filtered by the API, then checked exactly)."""
        response = self._call("GET", "/letters", safe=True, params={"metadata[letter_id]": letter_id, "limit": 10})
        body = json_body(self._expect(response, 200))
        items = body.get("letters") or body.get("data") or []
        matches = [
            item
            for item in items
            if isinstance(item, dict)
            and (
                (item.get("metadata") or {}).get("letter_id") == letter_id
                or item.get("description") == reference_description(letter_id)
            )
        ]
        return self._result(matches[0]) if matches else None

    def quote(self, request: PriceRequest) -> PriceQuote:
        """POST /letters/price; `total` in the answer is the price of one letter."""
        data = {
            "postage_type": postage_type(request.postage, request.country),
            "color": "color" if request.color else "bw",
            "both_sides": "true" if request.duplex else "false",
            "page_count": str(request.pages),
            "address_country": country_name(request.country),
        }
        response = self._call("POST", "/letters/price", safe=True, data=data)  # a quote creates nothing
        amount = Decimal(str(json_body(self._expect(response, 200))["total"]))
        return PriceQuote(amount=amount, currency="EUR", total=amount * request.volume, source="provider")

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:  # noqa: ARG002
        """Parse only: MySendingBox does not sign webhooks (the URL token is checked by the HTTP layer)."""
        try:
            payload = json.loads(raw_body)
            event = payload["event"]
            name = str(event["name"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSignature("not a MySendingBox webhook") from exc
        letter = payload.get("letter") or {}
        status, error_code = EVENT_MAP.get(name, (None, None))
        try:
            occurred_at = datetime.fromisoformat(str(payload.get("created_at")).replace("Z", "+00:00"))
        except ValueError:
            occurred_at = datetime.now(UTC)
        return [
            WebhookEvent(
                provider=self.name,
                event_id=str(event.get("_id") or f"{letter.get('_id')}:{name}"),
                provider_letter_id=letter.get("_id"),
                letter_id=(letter.get("metadata") or {}).get("letter_id"),
                status=status,
                raw_status=name,
                occurred_at=occurred_at,
                reason=event.get("description"),
                error_code=error_code,
                details={"category": event.get("category")},
            )
        ]

"""MySendingBox adapter (providers.md §3): Basic auth (key, ""), multipart letters, unsigned webhooks.

Exactly-once: no idempotency key was found (§3.4). Every letter carries our `letter_id` in `metadata` and
`description`; `submit` lists letters filtered by that metadata first, creates only when none is found, and after
an ambiguous create (5xx, timeout, dropped response) looks up again before repeating (`LookupFirstAdapter`).

Webhooks are unsigned (§3.4): the org configures the webhook URL with Basic auth credentials in it
(`https://webhook:<token>@host/v1/webhooks/mysendingbox/<org>`); `parse_webhook` checks that token in constant time
(`verify_url_token`) before it reads anything.

The letter object is read as MySendingBox really sends it (mysendingbox-node `Letter`, `Pricing`): `price` is an
object `{pack, postage, service, total}`, `status` an object `{name, ...}`, `tracking_number` may be a number. An
answer to a create that cannot be read is an ambiguous outcome: the letter may exist, so it is looked up by our
reference instead of failing (`LookupFirstAdapter`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from babel import Locale

from postal.codes import Code, fix_for
from postal.errors import InvalidSignature, ProviderError, UnreadableAnswer
from postal.models import Address, LetterStatus, Postage
from postal.providers.base import LetterSubmission, PriceQuote, PriceRequest, SubmitResult, WebhookEvent, as_dict
from postal.providers.http import ProviderHttp, RetryPolicy, error_details, json_body
from postal.providers.lookup_first import LookupFirstAdapter, reference_description

PROVIDER = "MySendingBox"  # as the fixes name it

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
        (LetterStatus.UNDELIVERABLE, Code.UNDELIVERABLE),
    ),
    "letter.error": (LetterStatus.FAILED, Code.REJECTED_BY_PROVIDER),
    "letter.canceled": (LetterStatus.CANCELLED, None),
}
# Letter flags that mean a person must act (mysendingbox-node `Letter.error`, `Letter.wrong_address`).
PROBLEM_FLAGS = ("error", "wrong_address")
TRACKING_MAP: dict[str, tuple[LetterStatus | None, str | None]] = {
    "PRIS_EN_CHARGE": (LetterStatus.SENT, None),
    "A_RETIRER": (LetterStatus.SENT, None),
    "DISTRIBUE": (LetterStatus.DELIVERED, None),
    "RETOUR_DESTINATAIRE": (LetterStatus.UNDELIVERABLE, Code.UNDELIVERABLE),
    "INCONNU": (None, None),
}


def verify_url_token(expected: str, given: str | None) -> None:
    """Check the per-org secret carried in the webhook URL (MySendingBox signs nothing); constant-time."""
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise InvalidSignature("webhook URL token does not match")


def basic_auth_password(headers: dict[str, str]) -> str | None:
    """The password of an `Authorization: Basic` header (the token put into the webhook URL), else None."""
    auth = {k.lower(): v for k, v in headers.items()}.get("authorization") or ""
    scheme, _, encoded = auth.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


def webhook_url_with_token(url: str, token: str) -> str:
    """The URL to configure at MySendingBox: our webhook URL with `webhook:<token>` as Basic auth credentials."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}webhook:{token}@{rest}" if sep else url


def price_total(price: Any) -> Decimal | None:
    """`price` as MySendingBox sends it: `{pack, postage, service, total}` (a bare number is accepted too)."""
    if isinstance(price, dict):
        price = price.get("total")
    if price is None or isinstance(price, bool):
        return None
    try:
        value = Decimal(str(price))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def status_name(letter: dict[str, Any]) -> str | None:
    """The letter's `status.name` (an object in the real API; a bare string is accepted too)."""
    status = letter.get("status")
    if isinstance(status, dict):
        status = status.get("name")
    return str(status) if isinstance(status, str) and status else None


def tracking_number(letter: dict[str, Any]) -> str | None:
    """`tracking_number` as a string, whether it arrives as a string or a number."""
    value = letter.get("tracking_number")
    if value is None or isinstance(value, bool | dict | list):
        return None
    return str(value)


def country_name(code: str) -> str:
    """ISO alpha-2 to the country name MySendingBox expects ("FR" -> "France")."""
    name = COUNTRY_LOCALE.territories.get(code.upper())
    if not name:
        raise ProviderError(
            Code.MISSING_ADDRESS_FIELDS,
            f"Unknown country code {code!r}.",
            fix=fix_for(Code.MISSING_ADDRESS_FIELDS, PROVIDER),
            details={"provider": "mysendingbox", "fields": ["country"]},
        )
    return name


def postage_type(postage: Postage, country: str) -> str:
    """§5.2; Ecopli is a French domestic product, so economy elsewhere is `unsupported_country`."""
    if postage is Postage.ECONOMY and country.upper() != "FR":
        raise ProviderError(
            Code.UNSUPPORTED_COUNTRY,
            f"MySendingBox offers economy (ecopli) only within France, not to {country}.",
            fix=fix_for(Code.UNSUPPORTED_COUNTRY, PROVIDER),
            details={"provider": "mysendingbox", "country": country, "postage": postage.value},
        )
    return POSTAGE_TYPE[postage]


def map_letter(letter: dict[str, Any]) -> tuple[LetterStatus | None, str, str | None]:
    """(status, raw, error code) of a letter object: flags first, then the furthest event, status or tracking step."""
    if letter.get("error") is True:
        return LetterStatus.FAILED, "error", Code.REJECTED_BY_PROVIDER
    if letter.get("wrong_address") is True:
        return LetterStatus.UNDELIVERABLE, "wrong_address", Code.UNDELIVERABLE
    best: tuple[LetterStatus | None, str, str | None] = (LetterStatus.SUBMITTED, "created", None)
    order = list(LetterStatus)
    names = [str(e.get("name")) for e in letter.get("events") or [] if isinstance(e, dict)]
    names += [name for name in [status_name(letter)] if name]
    steps = [(EVENT_MAP.get(name), name) for name in names]
    steps += [
        (TRACKING_MAP.get(str(e.get("status"))), str(e.get("status")))
        for e in letter.get("tracking_events") or []
        if isinstance(e, dict)
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
            Code.MISSING_ADDRESS_FIELDS,
            "MySendingBox needs a postal code.",
            fix=fix_for(Code.MISSING_ADDRESS_FIELDS, PROVIDER),
            details={"provider": "mysendingbox", "fields": ["postal_code"]},
        )
    return {f"to[{key}]": value for key, value in fields.items() if value}


class MySendingBoxProvider(LookupFirstAdapter):
    """MySendingBox over httpx. `test_` keys never print; both modes share the host."""

    name = "mysendingbox"
    letters_path = "/letters"
    tracking_field = "tracking_number"

    def __init__(
        self,
        *,
        api_key: str,
        http: httpx.Client,
        base_url: str = BASE_URL,
        policy: RetryPolicy | None = None,
        webhook_token: str | None = None,
    ):
        self._auth = httpx.BasicAuth(api_key, "")
        self._webhook_token = webhook_token
        self.live = not api_key.startswith("test_")
        self._base = base_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._http = ProviderHttp(http, self.name, self._policy)

    def _call(self, method: str, path: str, *, safe: bool, **kwargs: Any) -> httpx.Response:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        response = self._http.request(
            method, f"{self._base}{path}", safe=safe, auth=self._auth, headers=headers, **kwargs
        )
        return self._authorised(response, "MySendingBox refused the API key")

    def _error(self, response: httpx.Response) -> ProviderError:
        """`{"error":{"message"}}` to a canonical code (§3.4, §5.3)."""
        message = str((json_body(response).get("error") or {}).get("message") or f"HTTP {response.status_code}")
        lowered = message.lower()
        if response.status_code == 422 and ("to[" in lowered or "to." in lowered or "address" in lowered):
            code = Code.MISSING_ADDRESS_FIELDS
        elif "pdf" in lowered or "file" in lowered or "page" in lowered:
            code = Code.FORMAT_ERROR
        elif "credit" in lowered or "balance" in lowered or response.status_code == 402:
            code = Code.INSUFFICIENT_CREDIT
        elif "postage" in lowered or "country" in lowered:
            code = Code.UNSUPPORTED_COUNTRY
        else:
            code = Code.REJECTED_BY_PROVIDER
        return ProviderError(
            code,
            f"MySendingBox rejected the request: {message}",
            fix=fix_for(code, PROVIDER),
            details=error_details(self.name, response),
        )

    @staticmethod
    def _map(letter: dict[str, Any]) -> tuple[LetterStatus | None, str, str | None]:
        return map_letter(letter)

    def _cancellable(self, letter: dict[str, Any]) -> bool:
        names = {str(e.get("name")) for e in letter.get("events") or [] if isinstance(e, dict)}
        return not names - {"letter.created"} and letter.get("canceled") is not True

    @staticmethod
    def _tracking(letter: dict[str, Any]) -> str | None:
        return tracking_number(letter)

    def _result(self, letter: dict[str, Any]) -> SubmitResult:
        """Raises `UnreadableAnswer` when the letter has no id (the caller looks the letter up instead)."""
        letter_id = letter.get("_id")
        if not isinstance(letter_id, str) or not letter_id:
            raise UnreadableAnswer("MySendingBox letter without an _id")
        status, raw, _ = map_letter(letter)
        price = price_total(letter.get("price"))
        return SubmitResult(
            provider_letter_id=letter_id,
            status=status or LetterStatus.SUBMITTED,
            raw_status=raw,
            price=price,
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
        for item in matches:
            try:
                return self._result(item)
            except UnreadableAnswer:
                continue
        return None

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
        amount = price_total(json_body(self._expect(response, 200)))
        if amount is None:
            raise ProviderError(
                Code.PROVIDER_UNAVAILABLE,
                "MySendingBox answered the price request without a readable total.",
                fix="Try again later; if it persists, the price route changed: report it.",
                retryable=True,
                details=error_details(self.name, response),
            )
        return PriceQuote(amount=amount, currency="EUR", total=amount * request.volume, source="provider")

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        """Check the URL token (Basic auth password), then map the event; the letter in the payload decides when
        its flags say a person must act (`error`, `wrong_address`)."""
        verify_url_token(self._webhook_token or "", basic_auth_password(headers))
        try:
            payload = json.loads(raw_body)
            event = payload["event"]
            name = str(event["name"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSignature("not a MySendingBox webhook") from exc
        letter = as_dict(payload.get("letter"))
        status, error_code = EVENT_MAP.get(name, (None, None))
        if status is None and any(letter.get(flag) is True for flag in PROBLEM_FLAGS):
            # An event we do not know, on a letter MySendingBox flags as a problem: never a silent history line.
            status, _, error_code = map_letter(letter)
            error_code = error_code or Code.PROVIDER_PROBLEM
        occurred_at = _parse_time(payload.get("created_at")) or datetime.now(UTC)
        metadata = as_dict(letter.get("metadata"))
        provider_letter_id = letter.get("_id") or event.get("letter")
        return [
            WebhookEvent(
                provider=self.name,
                event_id=str(event.get("_id") or f"{provider_letter_id}:{name}"),
                provider_letter_id=str(provider_letter_id) if provider_letter_id else None,
                letter_id=metadata.get("letter_id"),
                status=status,
                raw_status=name,
                occurred_at=occurred_at,
                reason=event.get("description") if isinstance(event.get("description"), str) else None,
                error_code=error_code,
                details={"category": event.get("category")},
            )
        ]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

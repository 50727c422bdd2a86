"""Pingen adapter against the strict fake: protocol, errors, retries, tokens, idempotency, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from postal.models import Address, LetterStatus, Postage
from postal.providers.base import InvalidSignature, PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.pingen import ISSUE_MAP, PingenProvider, TokenCache
from tests.fakes.pingen_fake import Fault, PingenFake
from tests.unit.providers.conftest import submission

KEY = "whsec-pingen-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> PingenFake:
    return PingenFake()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(fake: PingenFake, clock: Clock) -> PingenProvider:
    return PingenProvider(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        organisation_id=fake.organisation_id,
        http=httpx.Client(transport=httpx.MockTransport(fake)),
        api_url="https://api-staging.pingen.com",
        token_url="https://identity-staging.pingen.com",
        signing_key=KEY,
        token_cache=TokenCache(clock),
    )


def test_submit_uploads_then_creates_one_letter(provider: PingenProvider, fake: PingenFake) -> None:
    result = provider.submit(submission())

    assert result.status is LetterStatus.SUBMITTED
    assert result.raw_status == "validating"
    letter = fake.letters[result.provider_letter_id]["attributes"]
    assert (letter["delivery_product"], letter["print_mode"], letter["print_spectrum"]) == (
        "fast",
        "simplex",
        "grayscale",
    )
    assert letter["meta_data"] is None  # meta_data only for registered mail
    assert [m for m, _ in fake.calls] == ["POST", "GET", "PUT", "POST"]  # token, file-upload, PUT, create


@pytest.mark.parametrize(
    ("postage", "product"),
    [(Postage.ECONOMY, "cheap"), (Postage.REGISTERED, "registered")],
)
def test_postage_mapping_and_registered_meta_data(
    provider: PingenProvider, fake: PingenFake, postage: Postage, product: str
) -> None:
    result = provider.submit(submission(postage=postage, color=True, duplex=True))

    attrs = fake.letters[result.provider_letter_id]["attributes"]
    assert (attrs["delivery_product"], attrs["print_mode"], attrs["print_spectrum"]) == (product, "duplex", "color")
    if product == "registered":
        assert attrs["meta_data"]["recipient"] == {
            "name": "Anna Muster",
            "street": "Bahnhofstrasse",
            "number": "12",
            "zip": "8001",
            "city": "Zürich",
            "country": "CH",
        }


def test_registered_with_receipt_is_refused_never_sent_as_plain_registered(
    provider: PingenProvider, fake: PingenFake
) -> None:
    with pytest.raises(ProviderError) as exc:
        provider.submit(submission(postage=Postage.REGISTERED_WITH_RECEIPT))
    assert exc.value.code == ProviderErrorCode.POSTAGE_NOT_SUPPORTED
    assert fake.letters == {}
    with pytest.raises(ProviderError):
        provider.quote(PriceRequest(country="CH", pages=1, postage=Postage.REGISTERED_WITH_RECEIPT))


def test_registered_address_too_long_is_missing_address_fields(provider: PingenProvider, fake: PingenFake) -> None:
    long_city = Address(
        name="Anna Muster",
        lines=["Bahnhofstrasse 12"],
        postal_code="8001",
        city="Sankt Margrethen im Rheintal Ost",
        country="CH",
    )
    with pytest.raises(ProviderError) as exc:
        provider.submit(submission(postage=Postage.REGISTERED, recipient=long_city))

    assert exc.value.code == ProviderErrorCode.MISSING_ADDRESS_FIELDS
    assert "city" in exc.value.message
    assert exc.value.fix
    assert fake.calls == []  # refused before any network call


def test_token_is_cached_until_60s_before_expiry(provider: PingenProvider, fake: PingenFake, clock: Clock) -> None:
    provider.get(provider.submit(submission()).provider_letter_id)
    assert fake.count("POST", "/auth/access-tokens") == 1

    clock.now += fake.expires_in - 61
    provider.get(next(iter(fake.letters)))
    assert fake.count("POST", "/auth/access-tokens") == 1

    clock.now += 2  # inside the 60 s margin: renewed before use
    provider.get(next(iter(fake.letters)))
    assert fake.count("POST", "/auth/access-tokens") == 2


def test_401_reauthenticates_once(provider: PingenProvider, fake: PingenFake) -> None:
    letter_id = provider.submit(submission()).provider_letter_id
    fake.expire_tokens()

    assert provider.get(letter_id).status is LetterStatus.SUBMITTED
    assert fake.count("POST", "/auth/access-tokens") == 2


def test_bad_client_credentials_are_credentials_rejected(fake: PingenFake) -> None:
    provider = PingenProvider(
        client_id="client-1",
        client_secret="wrong",
        organisation_id="org-1",
        http=httpx.Client(transport=httpx.MockTransport(fake)),
        token_cache=TokenCache(),
    )
    with pytest.raises(ProviderError) as exc:
        provider.submit(submission())

    assert exc.value.code == ProviderErrorCode.PROVIDER_UNAVAILABLE
    assert exc.value.details["reason"] == "credentials_rejected"
    assert not exc.value.retryable
    assert "Reconnect" in exc.value.fix


def test_429_is_retried_honouring_retry_after(provider: PingenProvider, fake: PingenFake) -> None:
    fake.faults.append(Fault("POST", "/deliveries/letters", "429", retry_after="2"))

    provider.submit(submission())

    assert fake.count("POST", "/deliveries/letters") == 2
    assert len(fake.letters) == 1


def test_5xx_exhausts_budget_then_retryable_provider_unavailable(provider: PingenProvider, fake: PingenFake) -> None:
    fake.faults.append(Fault("GET", "/deliveries/letters/", "503", times=5))
    letter_id = provider.submit(submission()).provider_letter_id

    with pytest.raises(ProviderError) as exc:
        provider.get(letter_id)

    assert exc.value.code == ProviderErrorCode.PROVIDER_UNAVAILABLE
    assert exc.value.retryable
    assert fake.count("GET", "/deliveries/letters/") == 3  # the attempt budget


def test_long_retry_after_is_handed_to_the_queue(provider: PingenProvider, fake: PingenFake) -> None:
    fake.faults.append(Fault("GET", "/file-upload", "429", retry_after="120"))

    with pytest.raises(ProviderError) as exc:
        provider.submit(submission())

    assert exc.value.retryable
    assert exc.value.retry_after == 120
    assert fake.count("GET", "/file-upload") == 1


@pytest.mark.parametrize("kind", ["crash_after_accept", "drop_after_accept"])
def test_lost_create_response_then_retry_creates_exactly_one_letter(
    provider: PingenProvider, fake: PingenFake, kind: str
) -> None:
    fake.faults.append(Fault("POST", "/deliveries/letters", kind))

    result = provider.submit(submission())  # retried in-process with the same Idempotency-Key
    again = provider.submit(submission())  # and a later redelivery of the queue message

    assert len(fake.letters) == 1
    assert result.provider_letter_id == again.provider_letter_id


@pytest.mark.parametrize(
    ("pointer", "code"),
    [
        ("/data/attributes/meta_data/recipient/zip", ProviderErrorCode.MISSING_ADDRESS_FIELDS),
        ("/data/attributes/file_url", ProviderErrorCode.FORMAT_ERROR),
        ("/data/attributes/delivery_product", ProviderErrorCode.UNSUPPORTED_COUNTRY),
    ],
)
def test_422_maps_by_pointer(provider: PingenProvider, pointer: str, code: str) -> None:
    response = httpx.Response(
        422,
        json={"errors": [{"code": "validation", "title": "Invalid", "detail": "bad", "source": {"pointer": pointer}}]},
        headers={"X-Request-ID": "req-1"},
    )
    error = provider._error(response)

    assert error.code == code
    assert error.details["request_id"] == "req-1"
    assert error.fix


def test_cancel_and_status_mapping(provider: PingenProvider, fake: PingenFake) -> None:
    letter_id = provider.submit(submission()).provider_letter_id
    provider.cancel(letter_id)
    assert provider.get(letter_id).status is None  # cancelling: not final until Pingen confirms

    fake.set_status(letter_id, "cancelled")
    assert provider.get(letter_id).status is LetterStatus.CANCELLED
    fake.set_status(letter_id, "printing")
    with pytest.raises(ProviderError) as exc:
        provider.cancel(letter_id)
    assert exc.value.code == ProviderErrorCode.REJECTED_BY_PROVIDER


def test_quote_from_price_calculator(provider: PingenProvider) -> None:
    quote = provider.quote(PriceRequest(country="CH", pages=3, volume=10))
    assert (str(quote.amount), quote.currency, str(quote.total), quote.source) == ("1.25", "CHF", "12.50", "provider")
    with pytest.raises(ProviderError) as exc:
        provider.quote(PriceRequest(country="KP", pages=1))
    assert exc.value.code == ProviderErrorCode.UNSUPPORTED_COUNTRY


# --- webhooks -------------------------------------------------------------------------------------------------
def _webhook(data_type: str, code: str, *, drift: bool = False, reason: str | None = None) -> bytes:
    event_type = "deliverables_events" if drift else "letters_events"
    event = {
        "id": "evt-1",
        "type": event_type,
        "attributes": {"code": code, "name": code, "emitted_at": "2026-08-01T10:00:00+02:00"},
    }
    relationships = {
        "organisation": {"data": {"id": "org-1", "type": "organisations"}},
        "event": {"data": {"id": "evt-1", "type": event_type}},
    }
    relationships["deliverable" if drift else "letter"] = {"data": {"id": "pl-1", "type": "letters"}}
    return json.dumps(
        {
            "data": {
                "id": "wh-1",
                "type": data_type,
                "attributes": {"reason": reason, "url": "x", "created_at": "2026-08-01T08:00:00Z"},
                "relationships": relationships,
            },
            "included": [event, event] if drift else [event],
        }
    ).encode()


def _sign(body: bytes, key: str = KEY) -> dict[str, str]:
    return {"Signature": hmac.new(key.encode(), body, hashlib.sha256).hexdigest()}


@pytest.mark.parametrize(
    ("data_type", "code", "status", "error"),
    [
        ("webhook_sent", "transferred_to_distributor", LetterStatus.SENT, None),
        ("webhook_delivered", "delivered", LetterStatus.DELIVERED, None),
        ("webhook_undeliverable", "undeliverable", LetterStatus.UNDELIVERABLE, ProviderErrorCode.UNDELIVERABLE),
        ("webhook_issues", "file_too_many_pages", LetterStatus.FAILED, ProviderErrorCode.FORMAT_ERROR),
        ("webhook_issues", "shipping_country_blocked", LetterStatus.FAILED, ProviderErrorCode.UNSUPPORTED_COUNTRY),
        ("webhook_issues", "waiting_for_funds", None, ProviderErrorCode.INSUFFICIENT_CREDIT),
        ("webhook_issues", "rerouted", None, None),
    ],
)
def test_webhook_mapping(
    provider: PingenProvider, data_type: str, code: str, status: LetterStatus | None, error: str | None
) -> None:
    body = _webhook(data_type, code)
    [event] = provider.parse_webhook(_sign(body), body)

    assert (event.status, event.error_code, event.raw_status) == (status, error, code)
    assert event.event_id == "evt-1:pl-1"
    assert event.provider_letter_id == "pl-1"
    assert event.occurred_at.isoformat() == "2026-08-01T10:00:00+02:00"


def test_webhook_format_drift_deliverables_events_listed_twice(provider: PingenProvider) -> None:
    body = _webhook("webhook_sent", "transferred_to_distributor", drift=True)
    [event] = provider.parse_webhook(_sign(body), body)

    assert event.provider_letter_id == "pl-1"
    assert event.status is LetterStatus.SENT
    assert event.event_id == "evt-1:pl-1"


def test_webhook_signature_checks(provider: PingenProvider) -> None:
    body = _webhook("webhook_sent", "sent")
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(_sign(body, "another-key"), body)
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(_sign(body), body.replace(b"webhook_sent", b"webhook_delivered"))
    with pytest.raises(InvalidSignature):
        provider.parse_webhook({}, body)
    # Header names are case-insensitive (API Gateway lower-cases them).
    assert provider.parse_webhook({"signature": _sign(body)["Signature"]}, body)


# Pingen's web app event codes (AMANDA-Technology/PingenApiNet LetterEventCodes.cs, copied from the web app).
ALL_EVENT_CODES = [
    "auto_initiated_sending",
    "change_address_position",
    "initiated_sending",
    "queued_for_transfer",
    "transferred_to_pool",
    "accepted",
    "address_position_changed",
    "address_purged",
    "auto_submitted",
    "cancellation_completed",
    "cancellation_rejected",
    "cancellation_requested",
    "content_failed_inspection",
    "content_inspection_error",
    "content_passed_inspection",
    "created",
    "delivered",
    "file_not_a4_portrait",
    "file_not_found",
    "file_not_readable",
    "file_removed",
    "file_size_over_limit",
    "file_too_many_pages",
    "invalid_pdf_binary_content",
    "meta_data_failed_requirements",
    "processing",
    "receival_confirmed_by_distributor",
    "rejected_from_printcenter",
    "rerouted",
    "retracted_from_printcenter",
    "shipping_country_blocked",
    "shipping_organization_country_blocked",
    "submitted",
    "track_and_trace",
    "transferred_to_distributor",
    "transferred_to_printcenter",
    "unable_to_find_delivery_product",
    "undeliverable",
    "waiting_for_funds",
    "waiting_for_funds_expired",
    "waiting_for_legitimacy",
    "waiting_for_legitimacy_expired",
]


def test_every_pingen_event_code_is_mapped() -> None:
    assert len(ALL_EVENT_CODES) == 42
    assert sorted(set(ALL_EVENT_CODES) - set(ISSUE_MAP)) == []


def _with_letter_status(body: bytes, status: str) -> bytes:
    payload = json.loads(body)
    payload["included"].append({"id": "pl-1", "type": "letters", "attributes": {"status": status}})
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("code", "letter_status", "status", "error"),
    [
        # The issue's example: a print-centre refusal on an unprintable letter is a failure a person must fix.
        ("rejected_from_printcenter", "unprintable", LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
        ("meta_data_failed_requirements", "invalid", LetterStatus.FAILED, ProviderErrorCode.MISSING_ADDRESS_FIELDS),
        # A code nobody documented, on a letter in a problem status: failed, never a silent history line.
        ("something_pingen_added_later", "action_required", LetterStatus.FAILED, ProviderErrorCode.PROVIDER_PROBLEM),
        ("something_pingen_added_later", "unprintable", LetterStatus.FAILED, ProviderErrorCode.PROVIDER_PROBLEM),
        # A known wait on a letter in a problem status: the status says what it is.
        ("waiting_for_legitimacy", "action_required", LetterStatus.FAILED, ProviderErrorCode.FORMAT_ERROR),
        # Unknown code on a letter that is fine: history only.
        ("something_pingen_added_later", "printing", None, None),
    ],
)
def test_issue_webhooks_on_a_problem_letter_fail_with_the_reason_and_a_fix(
    provider: PingenProvider, code: str, letter_status: str, status: LetterStatus | None, error: str | None
) -> None:
    body = _with_letter_status(_webhook("webhook_issues", code, reason="Pingen says why"), letter_status)
    [event] = provider.parse_webhook(_sign(body), body)
    assert (event.status, event.error_code) == (status, error)
    if status is LetterStatus.FAILED:
        assert event.fix and event.reason == "Pingen says why"
        assert event.details["letter_status"] == letter_status


def test_a_retry_with_the_kept_upload_is_the_same_request_under_the_same_key(
    provider: PingenProvider, fake: PingenFake
) -> None:
    # What-if: Pingen refuses a reused Idempotency-Key with another body. A kept upload makes retries identical.
    fake.refuse_changed_body = True
    fake.faults.append(Fault("POST", "/deliveries/letters", "drop_after_accept", times=3))
    letter = submission()
    letter.staged = provider.stage(letter)
    with pytest.raises(ProviderError) as exc:
        provider.submit(letter)  # every in-process attempt lost its answer
    assert exc.value.retryable
    again = provider.submit(letter)  # the next SQS delivery, with the upload dispatch kept on the letter
    assert len(fake.letters) == 1 and again.provider_letter_id in fake.letters
    assert fake.count("GET", "/file-upload") == 1

    fresh = submission()  # without the kept upload, a retry changes file_url under the same key
    with pytest.raises(ProviderError) as refused:
        provider.submit(fresh)
    assert refused.value.code == ProviderErrorCode.FORMAT_ERROR

"""MySendingBox adapter against the strict fake: multipart create, lookup-before-create, errors, webhooks."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import httpx
import pytest

from postal.models import Address, LetterStatus, Postage
from postal.providers.base import InvalidSignature, PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.mysendingbox import (
    MySendingBoxProvider,
    price_total,
    verify_url_token,
    webhook_url_with_token,
)
from tests.fakes.mysendingbox_fake import MySendingBoxFake
from tests.fakes.pingen_fake import Fault
from tests.unit.providers.conftest import submission

PARIS = Address(name="Marie Curie", lines=["12 rue de Rivoli"], postal_code="75001", city="Paris", country="FR")


@pytest.fixture
def fake() -> MySendingBoxFake:
    return MySendingBoxFake()


TOKEN = "org-webhook-token-0123456789abcdef"


def basic(password: str, user: str = "webhook") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def provider(fake: MySendingBoxFake) -> MySendingBoxProvider:
    return MySendingBoxProvider(
        api_key=fake.api_key, http=httpx.Client(transport=httpx.MockTransport(fake)), webhook_token=TOKEN
    )


@pytest.mark.parametrize(
    ("postage", "postage_type"),
    [
        (Postage.ECONOMY, "ecopli"),
        (Postage.PRIORITY, "prioritaire"),
        (Postage.REGISTERED, "lr"),
        (Postage.REGISTERED_WITH_RECEIPT, "lrar"),
    ],
)
def test_submit_maps_postage_and_country_name(
    provider: MySendingBoxProvider, fake: MySendingBoxFake, postage: Postage, postage_type: str
) -> None:
    result = provider.submit(submission(recipient=PARIS, postage=postage, color=True))

    letter = fake.letters[result.provider_letter_id]
    assert (letter["postage_type"], letter["color"]) == (postage_type, "color")
    assert letter["metadata"]["letter_id"] == "let_000001"
    assert result.status is LetterStatus.SUBMITTED
    assert str(result.price) == "1.56"


def test_economy_outside_france_is_unsupported(provider: MySendingBoxProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        provider.submit(submission(postage=Postage.ECONOMY))  # to Switzerland
    assert exc.value.code == ProviderErrorCode.UNSUPPORTED_COUNTRY


@pytest.mark.parametrize("kind", ["crash_after_accept", "drop_after_accept"])
def test_lost_create_response_is_found_by_reference(
    provider: MySendingBoxProvider, fake: MySendingBoxFake, kind: str
) -> None:
    fake.faults.append(Fault("POST", "/letters", kind))
    first = provider.submit(submission(recipient=PARIS))
    again = provider.submit(submission(recipient=PARIS))
    assert len(fake.letters) == 1
    assert first.provider_letter_id == again.provider_letter_id


def test_reads_are_retried_then_retryable(provider: MySendingBoxProvider, fake: MySendingBoxFake) -> None:
    fake.faults.append(Fault("GET", "/letters/", "timeout", times=3))
    with pytest.raises(ProviderError) as exc:
        provider.get("abc")
    assert exc.value.retryable
    assert fake.count("GET", "/letters/") == 3


def test_wrong_key_is_credentials_rejected() -> None:
    provider = MySendingBoxProvider(
        api_key="test_wrong", http=httpx.Client(transport=httpx.MockTransport(MySendingBoxFake()))
    )
    with pytest.raises(ProviderError) as exc:
        provider.find_by_reference("x")
    assert exc.value.details["reason"] == "credentials_rejected"


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (422, "to[address_postalcode] is required", ProviderErrorCode.MISSING_ADDRESS_FIELDS),
        (422, "source_file must be a PDF file", ProviderErrorCode.FORMAT_ERROR),
        (402, "Not enough credit", ProviderErrorCode.INSUFFICIENT_CREDIT),
        (422, "postage_type must be one of ...", ProviderErrorCode.UNSUPPORTED_COUNTRY),
    ],
)
def test_error_mapping(provider: MySendingBoxProvider, status: int, message: str, code: str) -> None:
    error = provider._error(httpx.Response(status, json={"error": {"message": message}}))
    assert error.code == code
    assert error.fix


def test_status_from_events_and_tracking(provider: MySendingBoxProvider, fake: MySendingBoxFake) -> None:
    letter_id = provider.submit(submission(recipient=PARIS)).provider_letter_id
    fake.letters[letter_id]["events"].append({"name": "letter.accepted"})
    assert provider.get(letter_id).status is LetterStatus.ACCEPTED
    with pytest.raises(ProviderError):
        provider.cancel(letter_id)  # in production
    fake.letters[letter_id]["tracking_events"].append({"status": "DISTRIBUE"})
    assert provider.get(letter_id).status is LetterStatus.DELIVERED
    fake.letters[letter_id]["wrong_address"] = True
    assert provider.get(letter_id).status is LetterStatus.UNDELIVERABLE


def test_cancel_before_production(provider: MySendingBoxProvider, fake: MySendingBoxFake) -> None:
    letter_id = provider.submit(submission(recipient=PARIS)).provider_letter_id
    provider.cancel(letter_id)
    assert provider.get(letter_id).status is LetterStatus.CANCELLED


def test_quote_from_price_endpoint(provider: MySendingBoxProvider) -> None:
    quote = provider.quote(PriceRequest(country="FR", pages=3, volume=2))
    assert (str(quote.amount), str(quote.total), quote.source) == ("1.50", "3.00", "provider")


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("letter.created", LetterStatus.SUBMITTED),
        ("letter.accepted", LetterStatus.ACCEPTED),
        ("letter.filing_proof", LetterStatus.SENT),
        ("letter.waiting_to_be_withdrawn", LetterStatus.SENT),
        ("letter.distributed", LetterStatus.DELIVERED),
        ("letter.wrong_address", LetterStatus.UNDELIVERABLE),
        ("letter.lost", LetterStatus.UNDELIVERABLE),
        ("letter.error", LetterStatus.FAILED),
        ("letter.canceled", LetterStatus.CANCELLED),
        ("letter.something_new", None),
    ],
)
def test_webhook_parsing(provider: MySendingBoxProvider, name: str, status: LetterStatus | None) -> None:
    body = json.dumps(
        {
            "created_at": "2026-08-01T10:00:00Z",
            "event": {"_id": "ev_1", "name": name, "category": "letter"},
            "letter": {"_id": "msb_1", "metadata": {"letter_id": "let_000001"}},
        }
    ).encode()
    [event] = provider.parse_webhook(basic(TOKEN), body)
    assert (event.status, event.event_id, event.letter_id, event.provider_letter_id) == (
        status,
        "ev_1",
        "let_000001",
        "msb_1",
    )


def test_url_token_verification() -> None:
    verify_url_token("org-secret-token", "org-secret-token")
    with pytest.raises(InvalidSignature):
        verify_url_token("org-secret-token", "org-secret-tokeN")
    with pytest.raises(InvalidSignature):
        verify_url_token("org-secret-token", None)


@pytest.mark.parametrize(
    "headers",
    [{}, basic("wrong-token"), basic(TOKEN[:-1]), {"Authorization": "Bearer " + TOKEN}, {"Authorization": "Basic !!"}],
)
def test_webhook_without_the_url_token_is_refused(provider: MySendingBoxProvider, headers: dict[str, str]) -> None:
    body = json.dumps({"event": {"_id": "ev_1", "name": "letter.returned_to_sender"}, "letter": {"_id": "m"}})
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(headers, body.encode())


def test_webhook_url_carries_the_token_as_basic_auth() -> None:
    url = webhook_url_with_token("https://api.example.com/v1/webhooks/mysendingbox/org_1", TOKEN)
    assert url == f"https://webhook:{TOKEN}@api.example.com/v1/webhooks/mysendingbox/org_1"


@pytest.mark.parametrize(
    ("price", "total"),
    [
        ({"pack": "developer", "postage": 1.16, "service": 0.67, "total": 1.83}, Decimal("1.83")),
        ({"total": "2.10"}, Decimal("2.10")),
        (1.56, Decimal("1.56")),
        ({"pack": "developer"}, None),
        ("n/a", None),
        (None, None),
        (True, None),
    ],
)
def test_price_is_read_as_the_object_mysendingbox_sends(price: object, total: Decimal | None) -> None:
    assert price_total(price) == total


def test_unknown_event_on_a_letter_flagged_error_fails_with_provider_problem(provider: MySendingBoxProvider) -> None:
    body = json.dumps(
        {
            "event": {"_id": "ev_9", "name": "letter.something_new"},
            "letter": {"_id": "m1", "error": True, "metadata": {"letter_id": "let_1"}},
        }
    ).encode()
    [event] = provider.parse_webhook(basic(TOKEN), body)
    assert event.status is LetterStatus.FAILED
    assert event.error_code == ProviderErrorCode.REJECTED_BY_PROVIDER


def test_unreadable_create_answer_is_looked_up_not_failed(
    provider: MySendingBoxProvider, fake: MySendingBoxFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = fake._create

    def garbled(request: httpx.Request) -> httpx.Response:
        original(request)  # the letter exists at MySendingBox ...
        return httpx.Response(200, content=b"<html>502 from a proxy</html>")  # ... but the answer is unreadable

    monkeypatch.setattr(fake, "_create", garbled)
    result = provider.submit(submission(recipient=PARIS))
    assert len(fake.letters) == 1
    assert result.provider_letter_id in fake.letters

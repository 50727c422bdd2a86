"""Generic provider contract: signed requests, idempotent create, canonical errors, signed callbacks."""

from __future__ import annotations

import time

import httpx
import pytest

from postal.models import LetterStatus
from postal.providers.base import InvalidSignature, LetterSubmission, PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.generic import GenericProvider
from tests.fakes.generic_fake import GenericFake
from tests.fakes.pingen_fake import Fault
from tests.unit.providers.conftest import submission

URL = "https://print.example.com/postal"


@pytest.fixture
def fake() -> GenericFake:
    return GenericFake()


@pytest.fixture
def provider(fake: GenericFake) -> GenericProvider:
    return GenericProvider(endpoint_url=URL, secret=fake.secret, http=httpx.Client(transport=httpx.MockTransport(fake)))


def letter() -> LetterSubmission:
    return submission(pdf_url="https://s3.example.com/letters/let_000001.pdf?sig=x")


def test_submit_signed_and_idempotent(provider: GenericProvider, fake: GenericFake) -> None:
    first = provider.submit(letter())
    again = provider.submit(letter())
    assert first.status is LetterStatus.ACCEPTED
    assert first.provider_letter_id == again.provider_letter_id
    assert len(fake.letters) == 1
    assert provider.find_by_reference("let_000001") == first
    assert provider.find_by_reference("unknown") is None


def test_lost_response_is_retried_with_same_key(provider: GenericProvider, fake: GenericFake) -> None:
    fake.faults.append(Fault("POST", "/letters", "drop_after_accept"))
    provider.submit(letter())
    assert len(fake.letters) == 1
    assert fake.count("POST", "/letters") == 2


def test_wrong_secret_is_credentials_rejected(fake: GenericFake) -> None:
    provider = GenericProvider(
        endpoint_url=URL, secret="not-the-shared-secret-000", http=httpx.Client(transport=httpx.MockTransport(fake))
    )
    with pytest.raises(ProviderError) as exc:
        provider.submit(letter())
    assert exc.value.details["reason"] == "credentials_rejected"


def test_canonical_error_codes_pass_through(provider: GenericProvider) -> None:
    bad = submission(pdf_url="https://s3.example.com/x.pdf")
    bad.recipient.lines.clear()
    with pytest.raises(ProviderError) as exc:
        provider.submit(bad)
    assert (exc.value.code, exc.value.fix) == (ProviderErrorCode.MISSING_ADDRESS_FIELDS, "add a street")


def test_cancel_get_quote(provider: GenericProvider, fake: GenericFake) -> None:
    letter_id = provider.submit(letter()).provider_letter_id
    provider.cancel(letter_id)
    assert provider.get(letter_id).status is LetterStatus.CANCELLED
    fake.letters[letter_id]["status"] = "printing"
    with pytest.raises(ProviderError) as exc:
        provider.cancel(letter_id)
    assert exc.value.code == ProviderErrorCode.REJECTED_BY_PROVIDER
    assert str(provider.quote(PriceRequest(country="DE", pages=2, volume=3)).total) == "4.20"


def test_callbacks(provider: GenericProvider, fake: GenericFake) -> None:
    body = {
        "event_id": "e1",
        "letter_id": "let_000001",
        "provider_letter_id": "ph-1",
        "status": "sent",
        "occurred_at": "2026-08-01T10:00:00Z",
        "reason": None,
    }
    headers, raw = fake.callback(body)
    [event] = provider.parse_webhook(headers, raw)
    assert (event.status, event.event_id, event.letter_id) == (LetterStatus.SENT, "e1", "let_000001")

    with pytest.raises(InvalidSignature, match="stale"):
        provider.parse_webhook(*fake.callback(body, at=int(time.time()) - 301))
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(headers, raw.replace(b"sent", b"lost"))
    with pytest.raises(InvalidSignature):
        provider.parse_webhook({"Postal-Signature": "t=1,v1=00"}, raw)
    headers, raw = fake.callback({**body, "status": "created"})  # not a status a provider may set
    assert provider.parse_webhook(headers, raw)[0].status is None

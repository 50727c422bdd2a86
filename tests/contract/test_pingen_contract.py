"""The Pingen adapter against `strict_pingen.py` (written from pingen2-sdk-php/-python/-js and the n8n node)."""

from __future__ import annotations

import httpx
import pytest

from postal.models import Address, LetterStatus, Postage
from postal.providers.base import PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.pingen import PingenProvider, TokenCache
from tests.contract.conftest import LoseResponses, StartFake, StrictFake
from tests.unit.documents import pdf_corpus
from tests.unit.providers.conftest import submission

LETTERS = "/organisations/org-1/deliveries/letters"


def pingen(fake: StrictFake, transport: httpx.BaseTransport | None = None) -> PingenProvider:
    return PingenProvider(
        client_id="id",
        client_secret="secret",
        organisation_id="org-1",
        http=httpx.Client(transport=transport),
        api_url=fake.url,
        token_url=fake.url,
        token_cache=TokenCache(),
    )


@pytest.fixture
def fake(strict: StartFake) -> StrictFake:
    return strict("pingen", "--client-id", "id", "--client-secret", "secret", "--org", "org-1")


def _letter(**overrides: object):  # type: ignore[no-untyped-def]
    return submission(pdf=pdf_corpus.good_letter_cached(), **overrides)


def test_create_uploads_once_and_sends_the_letter(fake: StrictFake) -> None:
    result = pingen(fake).submit(_letter())
    [letter] = fake.state()["letter_list"]
    assert result.provider_letter_id == letter["id"]
    assert result.status is LetterStatus.SUBMITTED
    assert letter["attributes"]["delivery_product"] == "fast"
    assert letter["attributes"]["auto_send"] is True


@pytest.mark.parametrize("kind", ["lost", "crash"])
def test_retry_after_a_lost_create_is_the_same_request_and_mails_once(fake: StrictFake, kind: str) -> None:
    transport = LoseResponses("POST", LETTERS, kind)
    provider = pingen(fake, transport)
    letter = _letter()
    staged = provider.stage(letter)
    letter.staged = staged
    first: ProviderError | None = None
    try:
        provider.submit(letter)
    except ProviderError as exc:  # the in-process retries may or may not have replayed it already
        first = exc
    again = provider.submit(letter)  # the next SQS delivery, with the upload kept on the letter
    assert fake.state()["letters"] == 1
    assert len(set(transport.bodies)) == 1, "every retry under the key must be byte-identical"
    assert again.provider_letter_id == fake.state()["letter_list"][0]["id"]
    assert first is None or first.retryable


def test_a_retry_without_a_kept_upload_would_change_the_body(fake: StrictFake) -> None:
    # Why dispatch keeps the staged upload: two uploads give two different file URLs under one key.
    provider = pingen(fake)
    assert provider.stage(_letter())["url"] != provider.stage(_letter())["url"]


def test_find_by_reference_is_none_and_get_reads_the_status(fake: StrictFake) -> None:
    provider = pingen(fake)
    result = provider.submit(_letter())
    assert provider.find_by_reference("let_000001") is None  # Pingen cannot be searched: the key is the lookup
    current = provider.get(result.provider_letter_id)
    assert (current.status, current.raw_status) == (LetterStatus.SUBMITTED, "validating")


def test_cancel_moves_the_letter_to_cancelling(fake: StrictFake) -> None:
    provider = pingen(fake)
    result = provider.submit(_letter())
    provider.cancel(result.provider_letter_id)
    assert fake.state()["letter_list"][0]["attributes"]["status"] == "cancelling"
    assert provider.get(result.provider_letter_id).status is None  # only a request: no final status yet


def test_quote_from_the_price_calculator(fake: StrictFake) -> None:
    quote = pingen(fake).quote(PriceRequest(country="CH", pages=2, color=True, volume=3))
    assert (quote.currency, quote.source) == ("CHF", "provider")
    assert quote.total == quote.amount * 3


def test_registered_sends_the_recipient_within_pingens_limits(fake: StrictFake) -> None:
    pingen(fake).submit(_letter(postage=Postage.REGISTERED))
    assert fake.state()["letter_list"][0]["attributes"]["delivery_product"] == "registered"


def test_registered_with_receipt_never_reaches_pingen(fake: StrictFake) -> None:
    with pytest.raises(ProviderError) as exc:
        pingen(fake).submit(_letter(postage=Postage.REGISTERED_WITH_RECEIPT))
    assert exc.value.code == ProviderErrorCode.POSTAGE_NOT_SUPPORTED
    assert fake.state()["letters"] == 0


def test_too_long_registered_city_is_refused_before_pingen(fake: StrictFake) -> None:
    long_city = Address(name="A", lines=["Weg 1"], postal_code="8001", city="C" * 26, country="CH")
    with pytest.raises(ProviderError) as exc:
        pingen(fake).submit(_letter(postage=Postage.REGISTERED, recipient=long_city))
    assert exc.value.code == ProviderErrorCode.MISSING_ADDRESS_FIELDS


def test_429_is_retried_after_retry_after(strict: StartFake) -> None:
    fake = strict("pingen", "--org", "org-1", "--throttle-every", "2", "--throttle-scope", "api")
    provider = pingen(fake)
    for n in range(2):
        provider.submit(_letter(letter_id=f"let_00000{n}"))
    assert fake.state()["letters"] == 2

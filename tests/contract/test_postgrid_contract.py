"""The PostGrid adapter against `strict_postgrid.py` (written from postgrid-python 2.0.3 and PostGrid's docs)."""

from __future__ import annotations

import httpx
import pytest

from postal.models import Address, LetterStatus, Postage
from postal.providers.base import PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.postgrid import PostGridProvider
from tests.contract.conftest import StartFake, StrictFake
from tests.unit.documents import pdf_corpus
from tests.unit.providers.conftest import submission

KEY = "test_sk_strict"
SECRET = "whsec_postgrid_0123456789abcdef"
WHITE_HOUSE = Address(
    name="John Doe",
    lines=["1600 Pennsylvania Ave NW"],
    postal_code="20500",
    city="Washington",
    region="DC",
    country="US",
)
SENDER = Address(name="Acme Inc", lines=["1 Main St"], postal_code="10001", city="New York", region="NY", country="US")


def postgrid(fake: StrictFake) -> PostGridProvider:
    return PostGridProvider(api_key=KEY, http=httpx.Client(), base_url=fake.url, webhook_secret=SECRET)


def _letter(**overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {"recipient": WHITE_HOUSE, "sender": SENDER, "pdf": pdf_corpus.good_letter_cached()}
    return submission(**(values | overrides))


def creates(fake: StrictFake) -> list[dict[str, object]]:
    return [r for r in fake.state()["requests"] if r["method"] == "POST" and r["path"] == "/print-mail/v1/letters"]


def test_create_carries_our_letter_id_as_idempotency_key(strict: StartFake) -> None:
    fake = strict("postgrid")
    result = postgrid(fake).submit(_letter())
    [letter] = fake.state()["letters"]
    assert result.provider_letter_id == letter["id"]
    assert result.status is LetterStatus.ACCEPTED
    assert letter["metadata"]["letter_id"] == "let_000001"
    assert [r["idempotency_key"] for r in creates(fake)] == ["let_000001"]


@pytest.mark.parametrize("fault", ["--drop-after-create", "--fail-after-create"])
def test_lost_or_crashed_create_mails_once_even_when_search_lags(strict: StartFake, fault: str) -> None:
    # The search index does not show the new letter yet: only the Idempotency-Key prevents a second letter.
    fake = strict("postgrid", fault, "1", "--search-lag", "30")
    result = postgrid(fake).submit(_letter())
    [letter] = fake.state()["letters"]
    assert result.provider_letter_id == letter["id"]
    assert len(creates(fake)) == 2  # the create, then its replay under the same key


def test_lost_create_is_found_by_reference_without_a_second_create(strict: StartFake) -> None:
    fake = strict("postgrid", "--drop-after-create", "1")
    result = postgrid(fake).submit(_letter())
    assert len(fake.state()["letters"]) == 1
    assert len(creates(fake)) == 1  # the search found it: nothing was sent again
    assert postgrid(fake).find_by_reference("let_000001") == result


def test_get_follows_status_and_imb(strict: StartFake) -> None:
    fake = strict("postgrid")
    provider = postgrid(fake)
    pid = provider.submit(_letter()).provider_letter_id
    fake.advance(pid, {"status": "processed_for_delivery", "imbStatus": "out_for_delivery", "trackingNumber": "9400"})
    current = provider.get(pid)
    assert (current.status, current.tracking_number) == (LetterStatus.SENT, "9400")


def test_cancel_while_ready_and_refused_once_printing(strict: StartFake) -> None:
    fake = strict("postgrid")
    provider = postgrid(fake)
    first = provider.submit(_letter()).provider_letter_id
    provider.cancel(first)
    assert provider.get(first).status is LetterStatus.CANCELLED
    second = provider.submit(_letter(letter_id="let_000002")).provider_letter_id
    fake.advance(second, {"status": "printing"})
    with pytest.raises(ProviderError) as exc:
        provider.cancel(second)
    assert not exc.value.retryable and exc.value.code == ProviderErrorCode.REJECTED_BY_PROVIDER
    assert [r["method"] for r in fake.state()["requests"] if second in str(r["path"])][-1] == "GET"


def test_quote_is_from_the_price_table_and_never_calls_postgrid(strict: StartFake) -> None:
    fake = strict("postgrid")
    quote = postgrid(fake).quote(PriceRequest(country="US", pages=1, volume=2))
    assert quote.source == "price_table" and quote.total == quote.amount * 2
    assert [r for r in fake.state()["requests"] if not str(r["path"]).startswith("/_")] == []


def test_us_only_classes_are_refused_outside_the_us(strict: StartFake) -> None:
    fake = strict("postgrid")
    london = Address(name="Jane", lines=["10 Downing St"], postal_code="SW1A 2AA", city="London", country="GB")
    with pytest.raises(ProviderError) as exc:
        postgrid(fake).submit(_letter(recipient=london, postage=Postage.ECONOMY))
    assert exc.value.code == ProviderErrorCode.UNSUPPORTED_COUNTRY
    assert creates(fake) == []


def test_429_is_retried(strict: StartFake) -> None:
    fake = strict("postgrid", "--throttle-every", "2")
    postgrid(fake).submit(_letter())  # search (1), create (2: 429), create again (3)
    assert len(fake.state()["letters"]) == 1

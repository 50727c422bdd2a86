"""The MySendingBox adapter against `strict_mysendingbox.py` (written from the official node/java/php/ruby wrappers
and third-party sandbox observations)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from postal.models import Address, LetterStatus, Postage
from postal.providers.base import PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.mysendingbox import MySendingBoxProvider
from tests.contract.conftest import StartFake, StrictFake
from tests.unit.documents import pdf_corpus
from tests.unit.providers.conftest import submission

KEY = "test_msb_strict"
PARIS = Address(name="Marie Curie", lines=["12 rue de Rivoli"], postal_code="75001", city="Paris", country="FR")


def msb(fake: StrictFake) -> MySendingBoxProvider:
    return MySendingBoxProvider(api_key=KEY, http=httpx.Client(), base_url=fake.url)


def _letter(**overrides: object):  # type: ignore[no-untyped-def]
    return submission(**({"recipient": PARIS, "pdf": pdf_corpus.good_letter_cached()} | overrides))


def creates(fake: StrictFake) -> int:
    return sum(1 for r in fake.state()["requests"] if r["method"] == "POST" and r["path"] == "/letters")


def test_create_reads_the_price_object(strict: StartFake) -> None:
    fake = strict("mysendingbox")
    result = msb(fake).submit(_letter(postage=Postage.ECONOMY))
    [letter] = fake.state()["letters"]
    assert result.provider_letter_id == letter["_id"]
    assert isinstance(letter["price"], dict)  # {pack, postage, service, total}
    assert (result.price, result.currency) == (Decimal(str(letter["price"]["total"])), "EUR")
    assert letter["to"]["address_country"] == "France" and letter["postage_type"] == "ecopli"


@pytest.mark.parametrize("fault", ["--drop-after-create", "--fail-after-create"])
def test_lost_or_crashed_create_is_found_by_reference_and_mailed_once(strict: StartFake, fault: str) -> None:
    fake = strict("mysendingbox", fault, "1")
    result = msb(fake).submit(_letter())
    [letter] = fake.state()["letters"]
    assert result.provider_letter_id == letter["_id"]
    assert creates(fake) == 1


def test_a_retry_by_a_later_delivery_finds_the_letter(strict: StartFake) -> None:
    fake = strict("mysendingbox")
    first = msb(fake).submit(_letter())
    assert msb(fake).find_by_reference("let_000001") == first
    assert msb(fake).submit(_letter()) == first
    assert creates(fake) == 1


def test_get_follows_events_tracking_and_flags(strict: StartFake) -> None:
    fake = strict("mysendingbox")
    provider = msb(fake)
    pid = provider.submit(_letter()).provider_letter_id
    fake.advance(pid, {"event": "letter.accepted"})
    assert provider.get(pid).status is LetterStatus.ACCEPTED
    fake.advance(pid, {"event": "letter.sent", "tracking_number": 861234567, "tracking_status": "DISTRIBUE"})
    current = provider.get(pid)
    assert (current.status, current.tracking_number) == (LetterStatus.DELIVERED, "861234567")
    fake.advance(pid, {"error": True})
    assert provider.get(pid).status is LetterStatus.FAILED


def test_cancel_before_acceptance_and_refused_after(strict: StartFake) -> None:
    fake = strict("mysendingbox")
    provider = msb(fake)
    first = provider.submit(_letter()).provider_letter_id
    provider.cancel(first)
    assert provider.get(first).status is LetterStatus.CANCELLED
    second = provider.submit(_letter(letter_id="let_000002")).provider_letter_id
    fake.advance(second, {"event": "letter.accepted"})
    with pytest.raises(ProviderError) as exc:
        provider.cancel(second)
    assert exc.value.code == ProviderErrorCode.REJECTED_BY_PROVIDER and not exc.value.retryable


def test_quote_from_the_price_route(strict: StartFake) -> None:
    fake = strict("mysendingbox")
    quote = msb(fake).quote(PriceRequest(country="FR", pages=2, color=True, volume=4))
    assert quote.source == "provider" and quote.total == quote.amount * 4
    assert quote.amount == Decimal("2.10") + Decimal("0.55") + Decimal("0.24") + Decimal("0.50")


def test_429_is_retried(strict: StartFake) -> None:
    fake = strict("mysendingbox", "--throttle-every", "2")
    msb(fake).submit(_letter())  # list (1), create (2: 429), create again (3)
    assert len(fake.state()["letters"]) == 1

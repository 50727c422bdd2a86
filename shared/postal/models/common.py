"""Values every aggregate uses: the strict base of request bodies, channels, languages, postage, providers, the
letter status, countries, currencies, amounts, identifiers and addresses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator


class Strict(BaseModel):
    """Base for request bodies: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Channel(StrEnum):
    EMAIL = "email"
    POST = "post"
    SMS = "sms"


class Language(StrEnum):
    EN = "en"
    NL = "nl"
    FR = "fr"
    DE = "de"


class Postage(StrEnum):
    PRIORITY = "priority"
    ECONOMY = "economy"
    REGISTERED = "registered"
    REGISTERED_WITH_RECEIPT = "registered_with_receipt"


class ProviderName(StrEnum):
    PINGEN = "pingen"
    POSTGRID = "postgrid"
    MYSENDINGBOX = "mysendingbox"
    GENERIC = "generic"
    SANDBOX = "sandbox"


class LetterStatus(StrEnum):
    """Canonical letter status (providers.md §5.1). Order of declaration is the forward order."""

    CREATED = "created"
    RENDERED = "rendered"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PRINTING = "printing"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    FAILED = "failed"
    CANCELLED = "cancelled"


@cache
def _iso_codes() -> tuple[frozenset[str], frozenset[str]]:
    """(ISO 3166-1 alpha-2 countries, ISO 4217 currencies), read from pycountry on first use: importing it and
    loading its database costs ~50 ms, which a handler that validates no address or amount never pays."""
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries), frozenset(c.alpha_3 for c in pycountry.currencies)


def is_country(code: str) -> bool:
    """True for an ISO 3166-1 alpha-2 country code (`ZZ`, `XK`, `EU` are not)."""
    return len(code) == 2 and code.upper() in _iso_codes()[0]


def _country(code: str) -> str:
    if not is_country(code):
        raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
    return code


def _currency(code: str) -> str:
    if code.upper() not in _iso_codes()[1]:
        raise ValueError(f"'{code}' is not an ISO 4217 currency code")
    return code


CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True), AfterValidator(_country)]


CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True), AfterValidator(_currency)]


# Money: a sane maximum for one amount (a billion less a cent); sums of 200 lines of 1,000,000 units stay far
# inside Decimal's 28 significant digits, so nothing downstream overflows, rounds or raises.
MAX_AMOUNT = Decimal("999999999.99")


Amount = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, max_digits=14, description="Non-negative, at most 999999999.99")]


SignedAmount = Annotated[
    Decimal, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, max_digits=14, description="Negative for a discount line")
]


# Dates the service computes with (a due date plus up to ten years of steps) stay well inside `date`'s range.
BusinessDate = Annotated[date, Field(ge=date(1970, 1, 1), le=date(2099, 12, 31))]


def fraction_digits(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def require_currency_digits(currency: str, **amounts: Decimal | None) -> None:
    """At most the currency's fraction digits (EUR 2, JPY 0, KWD 3) in each amount."""
    # Babel only where an amount is validated: handlers that never see money do not load it at cold start.
    from babel.numbers import get_currency_precision

    digits = get_currency_precision(currency)
    for name, amount in amounts.items():
        if amount is not None and fraction_digits(amount) > digits:
            raise ValueError(f"{name} has more than the {digits} fraction digits of {currency}")


Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class Address(Strict):
    """A structured postal address. Country-specific validation lives in `postal.addresses`."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    company: Annotated[str, StringConstraints(max_length=100)] | None = None
    lines: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=100)]], Field(min_length=1, max_length=3)
    ]
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: CountryCode


class PartialAddress(Strict):
    """A billing address as the AR platform may sync it: any field may be missing. Stored as given; it is only
    required complete where post or paper is chosen (`postal.addresses.mailable`)."""

    name: Annotated[str, StringConstraints(max_length=100)] | None = None
    company: Annotated[str, StringConstraints(max_length=100)] | None = None
    lines: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=100)]], Field(max_length=3)] = (
        Field(default_factory=list)
    )
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    city: Annotated[str, StringConstraints(max_length=100)] | None = None
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: CountryCode | None = None


class Money(BaseModel):
    amount: Amount
    currency: CurrencyCode

    @model_validator(mode="after")
    def _digits(self) -> Money:
        require_currency_digits(self.currency, amount=self.amount)
        return self


VatNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9 .\-]{2,18}$", to_upper=True)]


Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()\-]{5,20}$")]


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]

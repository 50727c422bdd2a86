"""Configured price tables (`prices.json`) for providers that have no price endpoint.

Prices change and differ per contract, so they live in configuration; this module only applies the formula
documented in the JSON's `_comment`. Amounts are `Decimal`, rounded half-up to cents.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from math import ceil

from pydantic import BaseModel

from postal.codes import Code
from postal.errors import ProviderError
from postal.providers.base import PriceQuote, PriceRequest

CENT = Decimal("0.01")


class VolumeTier(BaseModel):
    min_volume: int
    discount_percent: Decimal


class PriceTable(BaseModel):
    """One provider's table; see the `_comment` in prices.json for the formula."""

    currency: str
    country_groups: dict[str, list[str]]
    base: dict[str, dict[str, Decimal]]
    print_per_page: dict[str, Decimal]
    extra_sheet: Decimal
    volume_tiers: list[VolumeTier]

    def group_for(self, country: str) -> str | None:
        """The country's group: an explicit listing wins over the `*` catch-all."""
        fallback = None
        for group, countries in self.country_groups.items():
            if country.upper() in countries:
                return group
            if "*" in countries:
                fallback = group
        return fallback

    def quote(self, request: PriceRequest, *, provider: str) -> PriceQuote:
        """Price one letter (and `volume` of them); `unsupported_country` when the postage is not offered there."""
        group = self.group_for(request.country)
        base = self.base.get(group, {}).get(request.postage.value) if group else None
        if base is None:
            raise ProviderError(
                Code.UNSUPPORTED_COUNTRY,
                f"{provider} offers no {request.postage.value} postage to {request.country}.",
                fix="Correct the country if it is wrong; otherwise choose another postage, send by email or use a "
                "provider that covers the country.",
                details={"provider": provider, "country": request.country, "postage": request.postage.value},
            )
        sheets = ceil(request.pages / 2) if request.duplex else request.pages
        per_page = self.print_per_page["color" if request.color else "bw"]
        amount = base + per_page * (request.pages - 1) + self.extra_sheet * (sheets - 1)
        tier = max(
            (t for t in self.volume_tiers if t.min_volume <= request.volume), key=lambda t: t.min_volume, default=None
        )
        if tier is not None:
            amount = amount * (Decimal(100) - tier.discount_percent) / Decimal(100)
        amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
        return PriceQuote(amount=amount, currency=self.currency, total=amount * request.volume, source="price_table")


@cache
def price_table(provider: str) -> PriceTable:
    """The configured table for `provider` (KeyError when there is none)."""
    raw = json.loads(resources.files("postal.providers").joinpath("prices.json").read_text(encoding="utf-8"))
    return PriceTable.model_validate(raw[provider])

"""Prices before sending: one letter (`GET .../prices`) and what a nightly run would post (`GET .../runs/...`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from pydantic import Field

from postal.errors import Conflict, ValidationFailed
from postal.letters.provider import provider_error, require_connected
from postal.letters.requests import require_postage_available
from postal.models import IntegrationStatus, Postage, ProviderName, is_country
from postal.ports import Stores
from postal.providers.base import PriceQuote, PriceRequest, ProviderError
from postal.providers.capabilities import require_capable

# The nightly run and the price tables are imported where they are used.
if TYPE_CHECKING:
    from postal.collection import RunQuote
    from postal.providers.connections import ProviderFactory
    from postal.providers.prices import PriceTable


class PriceOut(PriceQuote):
    """`GET .../prices`: a price per letter, exact from the connected provider or estimated from a public table."""

    provider: ProviderName
    estimate: bool = Field(
        description="True when the price comes from the provider's public price table (before connecting, for "
        "another provider than the connected one, or for a provider without a price endpoint); false when the "
        "connected provider quoted it for this org"
    )


def quote(
    stores: Stores,
    providers: ProviderFactory,
    org_id: str,
    *,
    country: str,
    pages: int,
    color: bool,
    duplex: bool,
    postage: Postage,
    volume: int,
    provider: ProviderName | None = None,
) -> PriceOut:
    """A price before sending: the connected provider's own quote, or (before connecting, or for another provider)
    an estimate from that provider's public price table."""
    _require_country(country)
    require_postage_available(postage, country)
    request = PriceRequest(
        country=country.upper(), pages=pages, color=color, duplex=duplex, postage=postage, volume=volume
    )
    integration = stores.integrations.get_integration(org_id, consistent=True)
    connected = integration.provider if integration.status == IntegrationStatus.CONNECTED else None
    priced = provider or connected
    if priced is not None:
        require_capable(priced.value, postage=postage, country=country, pages=pages, color=color, duplex=duplex)
    if connected is not None and provider in (None, connected):
        exact = _price(providers, org_id)(request)
        return PriceOut(**exact.model_dump(), provider=connected, estimate=exact.source != "provider")
    if provider is None:
        raise ValidationFailed(
            "without a connected integration, say which provider to price",
            code="provider_required",
            details=[{"field": "provider", "problem": "required while the postal integration is not connected"}],
            fix="add provider=pingen, postgrid, mysendingbox or sandbox for an estimate from its public prices",
        )
    try:
        estimate = _public_table(provider).quote(request, provider=provider.value)
    except ProviderError as exc:
        raise provider_error(exc) from exc
    return PriceOut(**estimate.model_dump(), provider=provider, estimate=True)


def _require_country(country: str) -> None:
    if not is_country(country):
        raise ValidationFailed(
            f"'{country}' is not an ISO 3166-1 alpha-2 country code",
            details=[{"field": "country", "problem": "unknown country"}],
            fix="give the destination's two-letter ISO country code, e.g. CH",
        )


def _public_table(provider: ProviderName) -> PriceTable:
    from postal.providers.prices import price_table

    try:
        return price_table(provider.value)
    except KeyError as exc:
        raise Conflict(
            f"{provider.value} has no public price list: its prices are the print house's own",
            code="no_public_price",
            fix=f"connect {provider.value} for its quote, or ask for an estimate from another provider",
        ) from exc


def quote_run(stores: Stores, providers: ProviderFactory, org_id: str, run_date: date, now: str) -> RunQuote:
    """The price of what the nightly run of `run_date` would post, from the connected provider."""
    from postal import collection

    require_connected(stores, org_id)
    return collection.quote_run(stores, _price(providers, org_id), org_id, run_date, now)


def _price(providers: ProviderFactory, org_id: str) -> Callable[[PriceRequest], PriceQuote]:
    """The org's provider's quote, its refusals mapped to domain errors."""
    provider = providers.for_org(org_id)

    def price(request: PriceRequest) -> PriceQuote:
        try:
            return provider.quote(request)
        except ProviderError as exc:
            raise provider_error(exc) from exc

    return price

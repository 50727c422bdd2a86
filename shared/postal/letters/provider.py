"""What the letter services need of the postal integration: that it is connected, its configured price table,
and a provider's refusal of a synchronous call turned into an API error."""

from __future__ import annotations

from decimal import Decimal

from postal.errors import DomainError, NotConnected, ProviderUnavailable, ValidationFailed
from postal.models import IntegrationStatus, Postage, PostalIntegration
from postal.ports import Stores
from postal.providers.base import PriceRequest, ProviderError, ProviderErrorCode

# A synchronous call is not retried for the caller (unlike a letter, which dispatch retries): say what to do now.
SYNCHRONOUS_UNAVAILABLE_FIX = (
    "The provider did not answer this request and nothing was changed. Ask again in a minute; if it keeps failing, "
    "check the provider's status, or reconnect the integration if its credentials were rejected."
)


def provider_error(exc: ProviderError) -> DomainError:
    """A provider's refusal of a synchronous call (a quote) as an API error: transient faults 503 with what to do
    now, everything else 409/422 with the provider's fix."""
    details = {"provider_code": exc.details.get("provider_code"), "request_id": exc.details.get("request_id")}
    if exc.retryable or exc.code == ProviderErrorCode.PROVIDER_UNAVAILABLE:
        return ProviderUnavailable(exc.message, details=details, fix=SYNCHRONOUS_UNAVAILABLE_FIX)
    return ValidationFailed(exc.message, code=exc.code, details=details, fix=exc.fix)


def require_connected(stores: Stores, org_id: str) -> PostalIntegration:
    integration = stores.integrations.get_integration(org_id, consistent=True)
    if integration.status != IntegrationStatus.CONNECTED or integration.provider is None:
        raise NotConnected(
            "letters need the postal integration to be connected",
            fix="connect the postal integration first (POST .../integrations/postal/connect)",
        )
    return integration


def estimate(
    provider: str, country: str, pages: int, *, color: bool, duplex: bool, postage: Postage
) -> tuple[Decimal | None, str | None]:
    """A price from the configured table, when there is one for the provider (the provider's own price wins)."""
    from postal.providers.prices import price_table

    try:
        quote = price_table(provider).quote(
            PriceRequest(country=country, pages=pages, color=color, duplex=duplex, postage=postage),
            provider=provider,
        )
    except (KeyError, ProviderError):
        return None, None
    return quote.amount, quote.currency

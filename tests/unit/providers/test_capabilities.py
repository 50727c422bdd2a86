"""The capabilities table (configuration) and what it refuses."""

from __future__ import annotations

import pytest

from postal.errors import ValidationFailed
from postal.models import Postage
from postal.providers.capabilities import capabilities, require_capable
from postal.providers.registry import CREDENTIALS
from postal.reconcile import DEFAULT_AFTER_HOURS, after_hours


def test_every_provider_has_capabilities_for_every_postage_it_names() -> None:
    for provider in CREDENTIALS:
        caps = capabilities(provider)
        assert caps.postage, provider


@pytest.mark.parametrize(
    ("provider", "postage", "country", "ok"),
    [
        ("pingen", Postage.REGISTERED_WITH_RECEIPT, "CH", False),
        ("pingen", Postage.REGISTERED, "CH", True),
        ("postgrid", Postage.REGISTERED_WITH_RECEIPT, "US", True),
        ("postgrid", Postage.REGISTERED_WITH_RECEIPT, "CA", False),
        ("postgrid", Postage.ECONOMY, "GB", False),
        ("mysendingbox", Postage.ECONOMY, "FR", True),
        ("mysendingbox", Postage.ECONOMY, "BE", False),
        ("sandbox", Postage.REGISTERED_WITH_RECEIPT, "CH", True),
    ],
)
def test_postage_per_destination(provider: str, postage: Postage, country: str, ok: bool) -> None:
    if ok:
        require_capable(provider, postage=postage, country=country)
        return
    with pytest.raises(ValidationFailed) as exc:
        require_capable(provider, postage=postage, country=country)
    assert exc.value.code == "postage_not_supported"
    assert exc.value.details[0]["field"] == "postage"


def test_page_limit_per_destination() -> None:
    require_capable("pingen", postage=Postage.PRIORITY, country="DE", pages=300)
    with pytest.raises(ValidationFailed) as exc:
        require_capable("pingen", postage=Postage.PRIORITY, country="CH", pages=121)
    assert exc.value.details == [{"field": "pages", "message": "pingen prints at most 120 pages to CH"}]


def test_reconcile_after_hours_overrides_and_ignores_garbage() -> None:
    hours = after_hours("pingen=48, postgrid = 72,bogus,sandbox=x")
    assert hours["pingen"] == 48 and hours["postgrid"] == 72
    assert hours["sandbox"] == DEFAULT_AFTER_HOURS["sandbox"]
    assert after_hours("") == DEFAULT_AFTER_HOURS

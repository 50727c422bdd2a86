"""Prices without a connection (issue 11 point 7; seed 000's FAQ sends people to the pricing before they connect):
an estimate from a provider's public price table, `estimate: true`; the connected provider's exact quote after."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from local.sandbox_server import SandboxServer
from postal import bootstrap
from postal.models import Postage
from postal.providers.base import PriceRequest
from postal.providers.prices import price_table
from tests.apigw import Reply
from tests.conftest import Api, Aws, Org

QUERY = {"country": "FR", "pages": "2", "postage": "registered_with_receipt"}


def prices(api: Api, org: Org, **query: str) -> Reply:
    return api("letters_api", "GET", f"/v1/orgs/{org.org_id}/prices", key=org.key, query={**QUERY, **query})


def table_price(provider: str, **request: Any) -> Decimal:
    req = PriceRequest(
        **{"country": "FR", "pages": 2, "color": False, "duplex": False, "postage": Postage.REGISTERED_WITH_RECEIPT}
        | request
    )
    return price_table(provider).quote(req, provider=provider).amount


@pytest.mark.parametrize("provider", ["pingen", "postgrid", "mysendingbox", "sandbox"])
def test_a_disconnected_org_gets_an_estimate_from_each_providers_public_prices(
    api: Api, aws: Aws, provider: str
) -> None:
    org = api.new_org()
    reply = prices(api, org, provider=provider, postage="priority")
    assert reply.status == 200, reply.body
    quote = reply.json
    assert (quote["provider"], quote["estimate"], quote["source"]) == (provider, True, "price_table")
    assert Decimal(quote["amount"]) == table_price(provider, postage=Postage.PRIORITY)


def test_before_connecting_the_provider_must_be_named(api: Api, aws: Aws) -> None:
    reply = prices(api, api.new_org())
    assert (reply.status, reply.json["error"]["code"]) == (422, "provider_required")
    assert "provider=" in reply.json["error"]["fix"]


def test_the_generic_provider_has_no_public_price(api: Api, aws: Aws) -> None:
    reply = prices(api, api.new_org(), provider="generic")
    assert (reply.status, reply.json["error"]["code"]) == (409, "no_public_price")


def test_once_connected_the_quote_is_the_providers_own(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org = api.new_org()
    assert api.connect(org).status == 200
    exact = prices(api, org)
    assert exact.status == 200, exact.body
    assert (exact.json["provider"], exact.json["estimate"], exact.json["source"]) == ("sandbox", False, "provider")
    other = prices(api, org, provider="mysendingbox")  # comparing with another provider: its public prices
    assert (other.json["provider"], other.json["estimate"]) == ("mysendingbox", True)


def test_a_provider_down_during_a_quote_answers_503_with_what_to_do_now(
    api: Api,
    aws: Aws,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = api.new_org()
    assert api.connect(org).status == 200
    down = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(503, json={})))
    monkeypatch.setattr(bootstrap, "provider_http", lambda: down)
    reply = prices(api, org)
    assert (reply.status, reply.json["error"]["code"]) == (503, "provider_unavailable")
    fix = reply.json["error"]["fix"]
    assert "again" in fix and "retried" not in fix and "backoff" not in fix

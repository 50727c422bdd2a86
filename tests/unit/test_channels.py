"""Channel resolution truth table (PRODUCT.md §2.2): preference x template default x integration state."""

from __future__ import annotations

import itertools

import pytest

from postal.channels import Reason, resolve_channel
from postal.models import Address, AddressState, Channel, Customer, IntegrationStatus, PostalIntegration, Template

ADDRESS = Address(name="Jana Müller", lines=["Unter den Linden 1"], postal_code="10117", city="Berlin", country="DE")


def _customer(preference: Channel | None, address: Address | None = ADDRESS, **kw: object) -> Customer:
    return Customer(customer_id="c1", name="Jana", preference=preference, billing_address=address, updated_at="t", **kw)


def _template(default: Channel) -> Template:
    return Template(template_id="reminder", kind="reminder", default_channel=default, updated_at="t")


def _integration(status: IntegrationStatus) -> PostalIntegration:
    return PostalIntegration(org_id="o", status=status)


def _expected(pref: Channel | None, default: Channel, connected: bool) -> tuple[Channel, Reason]:
    # The spec, restated independently: preference wins; post only exists while connected, and a stored post
    # while disconnected counts as already reverted (preference cleared, template default -> email).
    if pref is not None and (pref != Channel.POST or connected):
        return pref, Reason.CUSTOMER_PREFERENCE
    if default == Channel.POST and not connected:
        return Channel.EMAIL, Reason.TEMPLATE_DEFAULT
    return default, Reason.TEMPLATE_DEFAULT


CASES = list(itertools.product([None, *Channel], list(Channel), [True, False]))


@pytest.mark.parametrize(("pref", "default", "connected"), CASES)
def test_resolution_truth_table(pref: Channel | None, default: Channel, connected: bool) -> None:
    status = IntegrationStatus.CONNECTED if connected else IntegrationStatus.DISCONNECTED
    got = resolve_channel(_customer(pref), _template(default), _integration(status))
    assert (got.channel, got.reason) == _expected(pref, default, connected)
    assert got.deliverable


def test_truth_table_covers_every_combination() -> None:
    assert len(CASES) == 4 * 3 * 2


def test_post_customer_without_address_is_reported_not_emailed() -> None:
    got = resolve_channel(
        _customer(Channel.POST, address=None), _template(Channel.EMAIL), _integration(IntegrationStatus.CONNECTED)
    )
    assert got.channel == Channel.POST
    assert not got.deliverable
    assert got.problem == "missing_address_fields"


def test_post_customer_with_invalid_postal_code_names_the_field() -> None:
    bad = ADDRESS.model_copy(update={"postal_code": "123"})
    got = resolve_channel(_customer(Channel.POST, address=bad), _template(Channel.EMAIL), _integration("connected"))
    assert got.channel == Channel.POST
    assert got.problem == "invalid_address"
    assert [p.field for p in got.address_problems] == ["postal_code"]


def test_returned_address_blocks_post() -> None:
    customer = _customer(Channel.POST, address_state=AddressState.RETURNED)
    got = resolve_channel(customer, _template(Channel.EMAIL), _integration("connected"))
    assert (got.deliverable, got.problem) == (False, "address_returned")

"""Channel resolution (PRODUCT.md §2.2): customer preference, else the template's default; post needs a connection."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from postal.addresses import AddressProblem, address_problems
from postal.codes import Code
from postal.models import AddressState, Channel, Customer, IntegrationStatus, PostalIntegration, Template
from postal.ports import Stores


class Reason(StrEnum):
    CUSTOMER_PREFERENCE = "customer_preference"
    TEMPLATE_DEFAULT = "template_default"


class Resolution(BaseModel):
    """The channel for one (customer, template) pair, why, and whether post can actually go out."""

    channel: Channel
    reason: Reason
    deliverable: bool = True
    problem: str | None = None
    address_problems: list[AddressProblem] = []


def _effective(channel: Channel | None, connected: bool) -> Channel | None:
    """A stored `post` while disconnected is what the cascade is about to revert: treat it as reverted now, so
    the disconnect is effective immediately even before the cascade reaches this record."""
    if channel == Channel.POST and not connected:
        return None
    return channel


def resolve_channel(customer: Customer, template: Template, integration: PostalIntegration) -> Resolution:
    """The customer's preference if set, otherwise the template default; post only while connected.

    A post customer with an unusable address is reported as such (never silently emailed).
    """
    connected = integration.status == IntegrationStatus.CONNECTED
    preference = _effective(customer.preference, connected)
    if preference is not None:
        resolution = Resolution(channel=preference, reason=Reason.CUSTOMER_PREFERENCE)
    else:
        default = _effective(template.default_channel, connected) or Channel.EMAIL
        resolution = Resolution(channel=default, reason=Reason.TEMPLATE_DEFAULT)
    if resolution.channel != Channel.POST:
        # Not needed for this channel, but reported: an address synced incomplete shows before post is chosen.
        problems = address_problems(customer.billing_address) if customer.billing_address else []
        return resolution.model_copy(update={"address_problems": problems}) if problems else resolution
    if customer.billing_address is None:
        return resolution.model_copy(update={"deliverable": False, "problem": Code.MISSING_ADDRESS_FIELDS.value})
    if customer.address_state == AddressState.RETURNED:
        return resolution.model_copy(update={"deliverable": False, "problem": "address_returned"})
    problems = address_problems(customer.billing_address)
    if problems:
        return resolution.model_copy(
            update={"deliverable": False, "problem": "invalid_address", "address_problems": problems}
        )
    return resolution


def channel_for(stores: Stores, org_id: str, customer_id: str, template_id: str) -> Resolution:
    """The channel a document of `template_id` goes to `customer_id` by, today."""
    return resolve_channel(
        stores.customers.get_customer(org_id, customer_id),
        stores.templates.get_template(org_id, template_id),
        stores.integrations.get_integration(org_id),
    )

"""What a letter is sent as: the delivery product per postage (§5.2) and the registered-mail recipient
(`meta_data.recipient`) within Pingen's field limits (§1.3)."""

from __future__ import annotations

from postal.codes import Code
from postal.errors import ProviderError
from postal.models import Address, Postage

DELIVERY_PRODUCT = {
    Postage.PRIORITY: "fast",
    Postage.ECONOMY: "cheap",
    Postage.REGISTERED: "registered",
    # No return-receipt product exists (§5.2): registered_with_receipt is refused (capabilities.json), never
    # silently sent as plain registered.
}

REGISTERED_ADDRESS_FIX = (
    "Complete the customer's billing address (or the address in the request); registered mail needs name, street "
    "and number (or PO box), zip, city and country within Pingen's length limits."
)


REGISTERED_LIMITS = {"name": 45, "street": 40, "number": 10, "zip": 8, "city": 25}


def _split_street(line: str) -> tuple[str, str]:
    """'Bahnhofstrasse 12a' -> ('Bahnhofstrasse', '12a'); a line without a trailing number keeps it all."""
    head, _, tail = line.rpartition(" ")
    if head and any(ch.isdigit() for ch in tail):
        return head, tail
    return line, ""


def registered_recipient(address: Address) -> dict[str, str]:
    """`meta_data.recipient` for registered mail, within Pingen's limits (§1.3) or `missing_address_fields`."""
    street, number = _split_street(address.lines[0])
    recipient = {
        "name": address.name,
        "street": street,
        "number": number,
        "zip": address.postal_code or "",
        "city": address.city,
        "country": address.country.upper(),
    }
    problems = [
        f"{field} is longer than {limit} characters"
        for field, limit in REGISTERED_LIMITS.items()
        if len(recipient[field]) > limit
    ]
    problems += [f"{field} is missing" for field in ("name", "street", "zip", "city") if not recipient[field]]
    if problems:
        raise ProviderError(
            Code.MISSING_ADDRESS_FIELDS,
            "The address does not fit Pingen's registered-mail fields: " + "; ".join(problems) + ".",
            fix=REGISTERED_ADDRESS_FIX,
            details={"provider": "pingen", "fields": problems},
        )
    if not number:
        recipient.pop("number")
    return recipient

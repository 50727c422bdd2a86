"""Window standards and clear zones, loaded once from `zones.json` (configuration, not code)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel

from postal.errors import NotFound

MM_PER_PT = 25.4 / 72


class Rect(NamedTuple):
    """A rectangle in mm from the top-left of the page: x0..x1 across, y0..y1 down."""

    x0: float
    x1: float
    y0: float
    y1: float

    def contains(self, other: Rect, tolerance: float = 0.0) -> bool:
        return (
            other.x0 >= self.x0 - tolerance
            and other.x1 <= self.x1 + tolerance
            and other.y0 >= self.y0 - tolerance
            and other.y1 <= self.y1 + tolerance
        )

    def overlaps(self, other: Rect) -> bool:
        return other.x0 < self.x1 and other.x1 > self.x0 and other.y0 < self.y1 and other.y1 > self.y0


class Zone(BaseModel):
    """One window standard: where the recipient address goes and what must stay empty."""

    id: str
    paper: str
    page_mm: tuple[float, float]
    address: Rect
    text_x: float
    return_line: Rect | None
    clear: dict[str, Rect]
    border_mm: float
    body_min_y: float | None = None
    confirmed: bool


@cache
def _config() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "zones.json").read_text())


@cache
def get_zone(zone_id: str) -> Zone:
    """The zone with this id; `NotFound` lists the known ids."""
    cfg = _config()
    raw = cfg["zones"].get(zone_id)
    if raw is None:
        raise NotFound(f"unknown window standard '{zone_id}'", details={"known": sorted(cfg["zones"])})
    return Zone(
        id=zone_id,
        paper=raw["paper"],
        page_mm=tuple(cfg["papers"][raw["paper"]]),
        address=Rect(*raw["address"]),
        text_x=raw["text_x"],
        return_line=Rect(*raw["return_line"]) if raw["return_line"] else None,
        clear={name: Rect(*r) for name, r in raw["clear"].items()},
        border_mm=raw["border_mm"],
        body_min_y=raw.get("body_min_y"),
        confirmed=raw["confirmed"],
    )


def zone_ids() -> list[str]:
    return sorted(_config()["zones"])


def zone_for(provider: str, position: str) -> Zone:
    """The default window standard for a provider and an address position (`left`/`right`)."""
    defaults = _config()["provider_defaults"]
    return get_zone(defaults.get(provider, defaults["generic"])[position])

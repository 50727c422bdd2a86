"""What a check reports (`CheckResult`, `CheckProblem`, the address it read) and the millimetre formatting of its
fixes (to 0.1 mm, never "0 mm")."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from postal.documents.zones import Rect


class CheckProblem(BaseModel):
    """One reason the PDF does not fit: a stable `code`, a message for people, and a concrete fix."""

    code: str
    message: str
    fix: str
    page: int | None = None
    zone: str | None = None
    measured: dict[str, Any] = {}


class AddressBox(BaseModel):
    """The detected recipient address block, mm from the top-left of page 1 (glyph ink, not font boxes)."""

    x0: float
    x1: float
    y0: float
    y1: float


class AddressLine(BaseModel):
    """One printed line of text on page 1: its text, its glyph box in mm from the top-left, its size in pt."""

    text: str
    x0: float
    x1: float
    y0: float
    y1: float
    baseline: float
    size_pt: float


class WindowAddress(BaseModel):
    """What the window of page 1 shows: the recipient lines (top to bottom) and the return-address line."""

    lines: list[AddressLine]
    return_line: AddressLine | None = None


class CheckResult(BaseModel):
    """Outcome of `check_pdf`: `ok` is True exactly when `problems` is empty."""

    ok: bool
    zone_id: str
    problems: list[CheckProblem]
    address_box_mm: AddressBox | None
    address_lines: list[AddressLine] = []
    return_line: AddressLine | None = None
    page_count: int
    page_size_mm: tuple[float, float]
    file_size: int
    fonts: list[str]


def _line_rect(line: AddressLine) -> Rect:
    return Rect(line.x0, line.x1, line.y0, line.y1)


def _fmt(v: float) -> str:
    """mm for messages: one decimal, no trailing zero."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _edge(v: float) -> str:
    """An edge position in a fix: two decimals, so 'at 21.99 mm, the window at 22 mm' explains a 0.1 mm move."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _rect_dict(r: Rect) -> dict[str, float]:
    return {"x0": round(r.x0, 1), "x1": round(r.x1, 1), "y0": round(r.y0, 1), "y1": round(r.y1, 1)}


def _describe(r: Rect) -> str:
    return f"x {_fmt(r.x0)}-{_fmt(r.x1)} mm, y {_fmt(r.y0)}-{_fmt(r.y1)} mm"


def _union(boxes: list[Rect]) -> Rect:
    return Rect(min(b.x0 for b in boxes), max(b.x1 for b in boxes), min(b.y0 for b in boxes), max(b.y1 for b in boxes))


def _overlap_area(a: Rect, b: Rect) -> float:
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


def _distance(block: list[AddressLine], b: Rect) -> float:
    a = _union([_line_rect(line) for line in block])
    dx = max(0.0, b.x0 - a.x1, a.x0 - b.x1)
    dy = max(0.0, b.y0 - a.y1, a.y0 - b.y1)
    return math.hypot(dx, dy)

"""`zones.json` holds the zones that address-geometry.md §1 gives (the check and the renderer read only the json).

The spec's table is parsed, not copied: a changed number on either side fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from postal.documents.zones import Rect, get_zone, zone_ids

SPEC = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "address-geometry.md"
NUMBER = r"(\d+(?:\.\d+)?)"
DASH, TIMES = "\u2013", "\u00d7"  # the spec writes ranges with an en dash and rectangles with a times sign
RECT = re.compile(rf"{NUMBER}{DASH}{NUMBER} {TIMES} {NUMBER}{DASH}{NUMBER}")
RANGE = re.compile(rf"{NUMBER}{DASH}{NUMBER}")

pytestmark = pytest.mark.skipif(not SPEC.exists(), reason="shared/spec is not beside the work tree")


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in SPEC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    return rows


def _rects(text: str) -> list[Rect]:
    return [Rect(*(float(v) for v in m.groups())) for m in RECT.finditer(text)]


def test_every_configured_zone_is_a_row_of_the_spec() -> None:
    assert set(zone_ids()) <= set(_rows())


@pytest.mark.parametrize("zone_id", zone_ids())
def test_zone_matches_the_spec_row(zone_id: str) -> None:
    zone = get_zone(zone_id)
    _, paper, area, clear, _ = _rows()[zone_id]
    assert zone.paper == {"A4": "A4", "Letter": "LETTER"}[paper]
    rects = _rects(area)
    if area.startswith("field"):
        # DIN 5008: 'field x0-x1 x y0-y1: return/remark zone a-b, address zone c-d' (en dashes in the spec).
        field = rects[0]
        remark, address = (tuple(float(v) for v in m.groups()) for m in RANGE.finditer(area.split(":", 1)[1]))
        assert zone.address == Rect(field.x0, field.x1, *address)
        assert zone.return_line == Rect(field.x0, field.x1, *remark)
    else:
        assert zone.address == rects[0]
        returns = [r for r, part in zip(rects, area.split(";"), strict=False) if "return" in part]
        assert zone.return_line == (returns[0] if returns else None)
    indent = re.search(rf"from x {NUMBER}", area)
    din_line = re.search(rf"DIN 5008 alignment: text sits on the {NUMBER} mm line", SPEC.read_text())
    if zone_id.startswith("din5008"):
        assert din_line is not None
        assert zone.text_x == float(din_line.group(1))
    else:
        assert zone.text_x == (float(indent.group(1)) if indent else zone.address.x0)
    clear_rects = _rects(clear)
    for name, rect in zone.clear.items():
        if name == "right_of_address":
            # 'nothing right of ... the address': from the address's right edge to the paper's, at its height.
            assert "nothing right of" in clear
            assert rect == Rect(zone.address.x1, zone.page_mm[0], zone.address.y0, zone.address.y1)
        elif "border as left" in clear:
            # 'border as left': the left standard's border rules, its bottom-left square included.
            assert rect == get_zone("pingen-left").clear[name], (name, rect)
        else:
            assert rect in clear_rects, (name, rect, clear)
    border = re.search(rf"{NUMBER} mm border", clear)
    if "border as left" in clear:
        assert zone.border_mm == get_zone("pingen-left").border_mm
    else:
        assert zone.border_mm == (float(border.group(1)) if border else 0)
    body = re.search(rf"y \u2265 {NUMBER}", clear)
    assert zone.body_min_y == (float(body.group(1)) if body else None)

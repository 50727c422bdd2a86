"""The rendered letters read as a person would read them: pdfplumber (pdfminer) measures every glyph box, image and
rule in the PDF, independently of the renderer's own layout numbers.

For every window standard x language x kind, with the longest realistic data (`local.samples.longest_request`:
40 invoices, 60-character names, 7-line addresses):
- no two glyph boxes on a page overlap, and no glyph overlaps an image or a rule;
- no ink in the side margins, in the print border, or in the zone's clear rectangles;
- nothing is truncated: every input string appears whole in the text read back, block by block.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pdfplumber
import pytest

from local.samples import KINDS, longest_request
from postal.documents.address_format import format_address
from postal.documents.render import MARGIN_X, DocumentRequest, render_document
from postal.documents.zones import MM_PER_PT, Rect, Zone, get_zone, zone_ids
from postal.models import Language

EPS_MM = 0.02  # PDF coordinates are written to 0.01 pt
PRINT_BORDER_MM = 5.0  # print houses keep 5 mm at the paper edge free even where the standard names no border

Box = tuple[float, float, float, float]  # x0, x1, top, bottom in mm


def _mm(obj: dict[str, Any]) -> Box:
    return (obj["x0"] * MM_PER_PT, obj["x1"] * MM_PER_PT, obj["top"] * MM_PER_PT, obj["bottom"] * MM_PER_PT)


def _overlap(a: Box, b: Box, eps: float = EPS_MM) -> bool:
    return a[0] < b[1] - eps and b[0] < a[1] - eps and a[2] < b[3] - eps and b[2] < a[3] - eps


def _glyphs(page: Any) -> list[tuple[str, Box]]:
    return [(c["text"], _mm(c)) for c in page.chars if c["text"].strip()]


def glyph_collisions(page: Any) -> list[tuple[str, str]]:
    """Pairs of glyphs whose boxes overlap (sweep over x: only glyphs whose x ranges meet are compared)."""
    glyphs = sorted(_glyphs(page), key=lambda g: g[1][0])
    active: list[tuple[str, Box]] = []
    hits: list[tuple[str, str]] = []
    for text, box in glyphs:
        active = [a for a in active if a[1][1] > box[0] + EPS_MM]
        hits += [(a[0], text) for a in active if _overlap(a[1], box)]
        active.append((text, box))
    return hits


def ink(page: Any) -> Iterator[tuple[str, Box]]:
    """Everything that puts ink on the page: glyphs, images, rules, rectangles, curves."""
    yield from _glyphs(page)
    for kind in ("images", "lines", "rects", "curves"):
        for obj in getattr(page, kind):
            yield kind, _mm(obj)


def _segments(page: Any) -> list[tuple[float, float, float, str]]:
    """Glyphs grouped into lines (same baseline), lines cut into segments at column gaps: (x0, bottom, size,
    text)."""
    lines: dict[float, list[dict[str, Any]]] = {}
    for c in page.chars:
        lines.setdefault(round(c["bottom"], 1), []).append(c)
    segments: list[tuple[float, float, float, str]] = []
    for bottom, chars in sorted(lines.items()):
        chars.sort(key=lambda c: c["x0"])
        start, text, last_x1 = chars[0]["x0"], "", None
        for c in chars:
            if last_x1 is not None and c["x0"] - last_x1 > 1.5:  # pt: a column gap, not a space
                segments.append((start, bottom, chars[0]["size"], text))
                start, text = c["x0"], ""
            text += c["text"]
            last_x1 = c["x1"]
        segments.append((start, bottom, chars[0]["size"], text))
    return segments


def text_lines(page: Any) -> list[str]:
    """The page line by line, a line's segments (table cells, label and value) joined by a space."""
    lines: dict[float, list[tuple[float, str]]] = {}
    for x0, bottom, _, text in _segments(page):
        lines.setdefault(bottom, []).append((x0, text))
    return [" ".join(t for _, t in sorted(row)) for _, row in sorted(lines.items())]


def blocks(page: Any) -> list[str]:
    """The page's text as a reader groups it: segments into blocks when left-aligned under each other on
    consecutive lines (a wrapped description, a wrapped sender name and its address)."""
    out: list[list[tuple[float, float, float, str]]] = []
    for seg in sorted(_segments(page), key=lambda s: (s[1], s[0])):
        for block in out:
            x0, bottom, size, _ = block[-1]
            if abs(x0 - seg[0]) < 0.5 and 0 < seg[1] - bottom <= 2.2 * size:
                block.append(seg)
                break
        else:
            out.append([seg])
    return [" ".join(s[3] for s in block) for block in out]


def normalised(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\u202f", " ").replace("\xa0", " ")).strip().casefold()


def input_strings(request: DocumentRequest) -> list[str]:
    """Every string the request carries that the document prints."""
    branding, sender = request.branding, request.branding.sender_address
    strings = [branding.name, branding.footer, branding.vat_number, branding.contact_name, branding.contact_email]
    strings += [branding.contact_phone]
    if sender:
        strings += [*sender.lines, sender.city, sender.postal_code]
    recipient = request.recipient
    strings += [recipient.name, recipient.company, *recipient.lines, recipient.city, recipient.postal_code]
    origin = sender.country if sender else None
    strings += [line.text for line in format_address(recipient, origin, request.language)]
    for invoice in request.invoices:
        strings += [invoice.number, invoice.customer_number]
        if request.kind.value == "invoice":
            strings += [invoice.buyer_vat_number, invoice.payment_reference, invoice.vat_exemption_reason]
            strings += [line.description for line in invoice.lines]
    return [s for s in strings if s]


def allowed_ink(zone: Zone, index: int) -> list[Rect]:
    """Where ink may go on page `index`: the body between the margins, and on page 1 the address window and the
    return-line zone (which may start left of the body margin, e.g. US #10 at 12.7 mm)."""
    width, height = zone.page_mm
    border = max(zone.border_mm, PRINT_BORDER_MM)
    areas = [Rect(MARGIN_X, width - MARGIN_X, border, height - border)]
    if index == 0:
        areas += [zone.address, *([zone.return_line] if zone.return_line else [])]
    return areas


COMBINATIONS = [(z, lang, kind) for z in zone_ids() for lang in Language for kind in KINDS]


@pytest.mark.parametrize(("zone_id", "language", "kind"), COMBINATIONS, ids=lambda v: str(getattr(v, "value", v)))
def test_longest_document_has_no_collisions_no_ink_in_margins_and_nothing_cut(
    zone_id: str, language: Language, kind: Any
) -> None:
    zone = get_zone(zone_id)
    request = longest_request(kind, language, zone_id)
    doc = render_document(request)
    text: list[str] = []
    with pdfplumber.open(BytesIO(doc.pdf)) as pdf:
        assert len(pdf.pages) == doc.page_count > 1
        for index, page in enumerate(pdf.pages):
            assert glyph_collisions(page) == [], (zone_id, index)
            glyph_boxes = _glyphs(page)
            for kind_name, box in ink(page):
                rect = Rect(box[0], box[1], box[2], box[3])
                assert any(area.contains(rect, tolerance=EPS_MM) for area in allowed_ink(zone, index)), (
                    zone_id, index, kind_name, box,
                )  # fmt: skip
                for name, clear in zone.clear.items():
                    if index == 0 or name == "bottom_left_square":
                        assert not clear.overlaps(rect), (zone_id, index, name, kind_name, box)
                if kind_name in ("images", "lines", "rects"):
                    hits = [g for g, b in glyph_boxes if _overlap(b, box)]
                    assert hits == [], (zone_id, index, kind_name, box, hits)
            text += blocks(page)
    haystack = "\n".join(normalised(t) for t in text)
    missing = [s for s in input_strings(request) if normalised(s) not in haystack]
    assert missing == [], (zone_id, language, kind)

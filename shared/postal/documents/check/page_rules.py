"""The page rules: paper size, CropBox, the clear zones and the empty border on every page."""

from __future__ import annotations

from typing import Any

from postal.documents.check.limits import PAGE_TOLERANCE_PT
from postal.documents.check.pages import _PdfiumPage
from postal.documents.check.results import CheckProblem, _describe, _fmt, _line_rect, _rect_dict, _union
from postal.documents.zones import MM_PER_PT, Rect, Zone


def _page_size_problem(page: _PdfiumPage, zone: Zone) -> CheckProblem | None:
    """The page as shown (after /Rotate, the CropBox) must be the provider's paper, portrait."""
    w, h = page.width_mm, page.height_mm
    want_w, want_h = zone.page_mm
    tolerance = PAGE_TOLERANCE_PT * MM_PER_PT
    if abs(w - want_w) <= tolerance and abs(h - want_h) <= tolerance:
        return None
    size = f"{_fmt(w)} x {_fmt(h)} mm"
    want = f"{_fmt(want_w)} x {_fmt(want_h)} mm"
    landscape = abs(w - want_h) <= tolerance and abs(h - want_w) <= tolerance
    rotated = f", shown rotated by {page.rotation}° (/Rotate)" if page.rotation else ""
    return CheckProblem(
        code="wrong_page_size",
        message=f"the page is {size}{' (landscape)' if landscape else ''}{rotated}; {zone.id} needs "
        f"{zone.paper} portrait ({want})",
        fix=f"set the page size to {zone.paper} portrait ({want})"
        + (" and export the pages upright, without page rotation" if landscape else ""),
        measured={"width_mm": round(w, 1), "height_mm": round(h, 1)},
    )


def _cropbox_problems(page: Any) -> list[CheckProblem]:
    """Which box a print house uses is unconfirmed (address-geometry.md §3), so the two must agree."""
    crop, media = page.cropbox, page.mediabox
    if all(abs(float(a) - float(b)) <= PAGE_TOLERANCE_PT for a, b in zip(crop, media, strict=True)):
        return []
    return [
        CheckProblem(
            code="cropbox_mismatch",
            message="the visible page (CropBox) differs from the paper (MediaBox), so the printed position is "
            "ambiguous",
            fix="export without crop or bleed marks so that CropBox and MediaBox are the same",
            measured={
                "cropbox_pt": [round(float(v), 1) for v in crop],
                "mediabox_pt": [round(float(v), 1) for v in media],
            },
        )
    ]


def _clear_zone_problems(page: _PdfiumPage, zone: Zone, annots: list[tuple[str, Rect]]) -> list[CheckProblem]:
    problems = []
    for name, rect in zone.clear.items():
        ink = page.ink_box(rect)
        hits = [(kind, box) for kind, box in annots if rect.overlaps(box)]
        if ink is None and not hits:
            continue
        boxes = ([ink] if ink else []) + [box for _, box in hits]
        kinds = (page.objects_in(ink) if ink else []) + [kind for kind, _ in hits]
        problems.append(_zone_problem(name, rect, _union(boxes), kinds or ["graphics"], page, 1))
    return problems


def _border_problems(page: _PdfiumPage, zone: Zone, number: int, annots: list[tuple[str, Rect]]) -> list[CheckProblem]:
    """The border the provider's print automation needs must hold no ink and no annotation, on every page."""
    b = zone.border_mm
    if b <= 0:
        return []
    w, h = page.width_mm, page.height_mm
    inner = Rect(b, w - b, b, h - b)
    strips = [Rect(0, w, 0, b), Rect(0, w, h - b, h), Rect(0, b, b, h - b), Rect(w - b, w, b, h - b)]
    inks = [box for box in (page.ink_box(s) for s in strips) if box is not None]
    hits = [(kind, box) for kind, box in annots if not inner.contains(box)]
    if not inks and not hits:
        return []
    box = _union(inks + [box for _, box in hits])
    kinds = sorted({k for ink in inks for k in page.objects_in(ink)} | {kind for kind, _ in hits}) or ["graphics"]
    return [_zone_problem("border", inner, box, kinds, page, number)]


def _zone_problem(name: str, rect: Rect, box: Rect, kinds: list[str], page: _PdfiumPage, number: int) -> CheckProblem:
    sample = ""
    if "text" in kinds and number == 1:
        sample = next(
            (line.text for line in page.lines((box.y0 - 1, box.y1 + 10)) if _line_rect(line).overlaps(box)), ""
        )
    what = ", ".join(sorted(set(kinds))) + (f" ('{sample[:40]}')" if sample else "")
    if name == "border":
        message = f"content within {_fmt(rect.x0)} mm of the page edge on page {number}: {what} at {_describe(box)}"
        fix = f"keep all content inside {_describe(rect)} (a {_fmt(rect.x0)} mm empty border on every page)"
    else:
        message = f"the {name} zone ({_describe(rect)}) must stay empty; found {what} at {_describe(box)}"
        fix = f"move or remove the content at {_describe(box)} so that {_describe(rect)} stays empty"
    return CheckProblem(
        code="content_in_clear_zone",
        message=message,
        fix=fix,
        page=number,
        zone=name,
        measured={"box_mm": _rect_dict(box), "zone_mm": _rect_dict(rect), "kinds": sorted(set(kinds))},
    )

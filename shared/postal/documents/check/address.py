"""The recipient address on page 1: the block in (or near) the window, the return-address line, and how far to
move what when it is outside the window."""

from __future__ import annotations

import math
from dataclasses import dataclass

from postal.documents.check.limits import MAX_LINE_GAP, RETURN_LINE_MAX_PT, SEARCH_MARGIN_X_MM, SEARCH_MARGIN_Y_MM
from postal.documents.check.pages import _PdfiumPage
from postal.documents.check.results import (
    AddressLine,
    CheckProblem,
    _describe,
    _distance,
    _edge,
    _fmt,
    _line_rect,
    _overlap_area,
    _rect_dict,
    _union,
)
from postal.documents.zones import MM_PER_PT, Rect, Zone


@dataclass
class _Found:
    lines: list[AddressLine]
    return_line: AddressLine | None
    box: Rect | None
    problems: list[CheckProblem]


def _find_address(lines: list[AddressLine], page: _PdfiumPage, zone: Zone) -> _Found:
    """Locate the recipient block on page 1 (and a return-address line) and say how far it is off the window."""
    window = zone.address
    block, returns = _address_block(lines, zone, window)
    if not block:
        # Nothing near the window: is the address where the other envelope's window is?
        block, returns = _address_block(lines, zone, _mirror(window, page.width_mm))
    if block and _on_the_other_side(_union([_line_rect(line) for line in block]), window, page.width_mm):
        box = _union([_line_rect(line) for line in block])
        return _Found(block, None, box, [_wrong_side_problem(box, window, zone)])
    if not block:
        ink = page.ink_box(window)
        if ink is not None:
            kinds = page.objects_in(ink)
            return _Found([], None, None, [_not_machine_readable_problem(window, ink, kinds)])
        return _Found([], None, None, [_not_found_problem(window)])
    box = _union([_line_rect(line) for line in block])
    problems = [] if window.contains(box) else [_outside_window_problem(box, window)]
    return_line = returns[-1] if returns else None
    if return_line is not None:
        problems.extend(_return_line_problems(return_line, zone))
    return _Found(block, return_line, box, problems)


def _address_band(zone: Zone) -> tuple[float, float]:
    """The baselines that can belong to the address block or its return line (mm from the top)."""
    top = min(zone.address.y0, zone.return_line.y0 if zone.return_line else math.inf)
    return top - SEARCH_MARGIN_Y_MM, zone.address.y1 + SEARCH_MARGIN_Y_MM + 5.0


def _address_block(lines: list[AddressLine], zone: Zone, window: Rect) -> tuple[list[AddressLine], list[AddressLine]]:
    """The block of lines in or nearest the window, and the return-address line(s) above it."""
    region = Rect(
        window.x0 - SEARCH_MARGIN_X_MM,
        window.x1 + SEARCH_MARGIN_X_MM,
        window.y0 - SEARCH_MARGIN_Y_MM,
        window.y1 + SEARCH_MARGIN_Y_MM,
    )
    near = sorted((line for line in lines if region.overlaps(_line_rect(line))), key=lambda line: line.baseline)
    reserved = zone.return_line
    returns = [line for line in near if reserved is not None and _is_return_line(line, reserved, window)]
    rest = [line for line in near if line not in returns]
    blocks: list[list[AddressLine]] = []
    for line in rest:
        if blocks:
            last = blocks[-1][-1]
            height = max(line.y1 - line.y0, last.y1 - last.y0, line.size_pt * MM_PER_PT)
            if line.y0 - last.y1 <= MAX_LINE_GAP * height and _same_column(blocks[-1], line):
                blocks[-1].append(line)
                continue
        blocks.append([line])
    if not blocks:
        return [], []
    best = max(blocks, key=lambda b: (_overlap_area(_union([_line_rect(x) for x in b]), window), -_distance(b, window)))
    # A small first line right above the recipient lines, inside the window, is the sender line some standards
    # put there (Pingen, SN 010130): recognised, not read as the recipient's first line.
    if reserved is None and len(best) > 1 and _is_small_sender_line(best[0], best[1]):
        returns = [best[0]]
        best = best[1:]
    else:
        returns = [line for line in returns if line.y1 <= best[0].y0 + 0.5]
    return best, returns


def _is_return_line(line: AddressLine, reserved: Rect, window: Rect) -> bool:
    """A line centred in the zone the standard reserves for the return address, and small."""
    centre_y = (line.y0 + line.y1) / 2
    return (
        reserved.y0 - 2.0 <= centre_y <= reserved.y1
        and line.x0 < reserved.x1
        and line.x1 > reserved.x0
        and line.y1 <= window.y0 + 1.0
        and line.size_pt <= RETURN_LINE_MAX_PT
    )


def _is_small_sender_line(first: AddressLine, second: AddressLine) -> bool:
    return first.size_pt <= RETURN_LINE_MAX_PT and first.size_pt <= 0.85 * second.size_pt


def _same_column(block: list[AddressLine], line: AddressLine) -> bool:
    """Address lines share a left edge (within a few mm) or at least overlap horizontally."""
    left = min(x.x0 for x in block)
    right = max(x.x1 for x in block)
    return abs(line.x0 - left) <= 5.0 or (line.x0 < right and line.x1 > left)


def _on_the_other_side(box: Rect, window: Rect, page_w: float) -> bool:
    """Outside the window and centred on the other half of the page: a layout for the other envelope."""
    return _overlap_area(box, window) == 0 and (box.x0 + box.x1 < page_w) != (window.x0 + window.x1 < page_w)


def _mirror(rect: Rect, page_w: float) -> Rect:
    return Rect(page_w - rect.x1, page_w - rect.x0, rect.y0, rect.y1)


def _return_line_problems(line: AddressLine, zone: Zone) -> list[CheckProblem]:
    reserved = zone.return_line or zone.address
    box = _line_rect(line)
    if reserved.contains(box):
        return []
    moves = _moves(box, reserved, "return-address line", "zone")
    return [
        CheckProblem(
            code="return_line_outside_zone",
            message=f"the return-address line '{line.text[:60]}' ({_describe(box)}) is not inside the zone "
            f"{zone.id} reserves for it ({_describe(reserved)})",
            fix="; ".join(text for text, _ in moves) or f"keep it inside {_describe(reserved)}",
            page=1,
            zone="return_line",
            measured={"box_mm": _rect_dict(box), "zone_mm": _rect_dict(reserved), **dict(m for _, m in moves)},
        )
    ]


def _not_machine_readable_problem(window: Rect, ink: Rect, kinds: list[str]) -> CheckProblem:
    return CheckProblem(
        code="address_not_machine_readable",
        message=f"the address window ({_describe(window)}) shows {', '.join(kinds) or 'graphics'} at "
        f"{_describe(ink)} but no readable text",
        fix=f"put the recipient address in as real, visible text (not a scan, outlines or invisible text) at "
        f"{_describe(window)}",
        page=1,
        zone="address",
        measured={"box_mm": _rect_dict(ink), "window_mm": _rect_dict(window), "kinds": kinds},
    )


def _not_found_problem(window: Rect) -> CheckProblem:
    return CheckProblem(
        code="address_not_found",
        message=f"no text found in or near the address window ({_describe(window)})",
        fix=f"place the recipient address as text inside {_describe(window)}",
        page=1,
        zone="address",
        measured={"window_mm": _rect_dict(window)},
    )


def _wrong_side_problem(box: Rect, window: Rect, zone: Zone) -> CheckProblem:
    side, other = ("left", "right") if window.x0 < 105 else ("right", "left")
    moves = _moves(box, window, "address block", "window")
    return CheckProblem(
        code="address_wrong_side",
        message=f"the address block ({_describe(box)}) sits where a {other}-window envelope shows it, but "
        f"{zone.id} is a {side}-window standard ({_describe(window)})",
        fix=f"check the PDF against a {other}-window standard (address_position '{other}'), or "
        + "; ".join(text for text, _ in moves),
        page=1,
        zone="address",
        measured={"box_mm": _rect_dict(box), "window_mm": _rect_dict(window), **dict(m for _, m in moves)},
    )


def _outside_window_problem(box: Rect, window: Rect) -> CheckProblem:
    moves = _moves(box, window, "address block", "window")
    return CheckProblem(
        code="address_outside_window",
        message=f"the address block ({_describe(box)}) is not inside the window ({_describe(window)})",
        fix="; ".join(text for text, _ in moves),
        page=1,
        zone="address",
        measured={"box_mm": _rect_dict(box), "window_mm": _rect_dict(window), **dict(m for _, m in moves)},
    )


Move = tuple[str, tuple[str, float]]  # (fix text, (measured key, mm))


def _moves(box: Rect, target: Rect, what: str, where: str) -> list[Move]:
    """The moves that put `box` inside `target`: (fix text, (measured key, mm)), each at least 0.1 mm."""
    return [m for m in (_vertical_move(box, target, what, where), _horizontal_move(box, target, what, where)) if m]


def _vertical_move(box: Rect, target: Rect, what: str, where: str) -> Move | None:
    if box.y1 - box.y0 > target.y1 - target.y0:
        excess = _up(box.y1 - box.y0 - (target.y1 - target.y0))
        return (
            f"make the {what} {_fmt(excess)} mm shorter: it is {_fmt(box.y1 - box.y0)} mm tall, the {where} "
            f"{_fmt(target.y1 - target.y0)} mm (fewer lines or a smaller font), with its top edge at "
            f"{_edge(target.y0)} mm",
            ("shorten_mm", excess),
        )
    if box.y0 < target.y0:
        d = _up(target.y0 - box.y0)
        return (
            f"move the {what} down {_fmt(d)} mm: its top edge is at {_edge(box.y0)} mm, the {where}'s top "
            f"edge at {_edge(target.y0)} mm",
            ("move_down_mm", d),
        )
    if box.y1 > target.y1:
        d = _up(box.y1 - target.y1)
        return (
            f"move the {what} up {_fmt(d)} mm: its bottom edge is at {_edge(box.y1)} mm, the {where}'s bottom "
            f"edge at {_edge(target.y1)} mm",
            ("move_up_mm", d),
        )
    return None


def _horizontal_move(box: Rect, target: Rect, what: str, where: str) -> Move | None:
    if box.x1 - box.x0 > target.x1 - target.x0:
        excess = _up(box.x1 - box.x0 - (target.x1 - target.x0))
        return (
            f"make the {what}'s lines {_fmt(excess)} mm shorter: they are {_fmt(box.x1 - box.x0)} mm wide, "
            f"the {where} {_fmt(target.x1 - target.x0)} mm",
            ("narrow_mm", excess),
        )
    if box.x0 < target.x0:
        d = _up(target.x0 - box.x0)
        return (
            f"move the {what} right {_fmt(d)} mm: its left edge is at x {_edge(box.x0)} mm, the {where}'s "
            f"left edge at x {_edge(target.x0)} mm",
            ("move_right_mm", d),
        )
    if box.x1 > target.x1:
        d = _up(box.x1 - target.x1)
        return (
            f"move the {what} left {_fmt(d)} mm: its right edge is at x {_edge(box.x1)} mm, the {where}'s "
            f"right edge at x {_edge(target.x1)} mm",
            ("move_left_mm", d),
        )
    return None


def _up(mm: float) -> float:
    """A distance to move, rounded up to 0.1 mm so that the move is enough, and never 0."""
    # Rounded to 0.01 mm first: glyph boxes are exact to about 1/1000 em, which must not turn 7.7 into 7.8.
    return max(0.1, math.ceil(round(mm * 10, 1)) / 10)

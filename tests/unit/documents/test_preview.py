"""Page-1 PNG preview: a real PNG, the right size, and the overlay where the zone says."""

from __future__ import annotations

import struct
import zlib

import pytest

from postal.documents.check import check_pdf
from postal.documents.preview import ADDRESS_RGB, CLEAR_RGB, PROBLEM_RGB, WINDOW_RGB, render_preview_png
from postal.documents.zones import get_zone
from postal.errors import ValidationFailed
from tests.unit.documents import pdf_corpus as corpus

ZONE = get_zone("pingen-left")


def decode_png(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and packed RGB of a PNG as written by `png_rgb` (8-bit RGB, filter 0 on every row)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 2)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    row = width * 3
    assert all(raw[y * (row + 1)] == 0 for y in range(height))
    return width, height, b"".join(raw[y * (row + 1) + 1 : (y + 1) * (row + 1)] for y in range(height))


def pixel(rgb: bytes, width: int, x_mm: float, y_mm: float, dpi: int) -> tuple[int, int, int]:
    x, y = int(x_mm * dpi / 25.4), int(y_mm * dpi / 25.4)
    i = (y * width + x) * 3
    return rgb[i], rgb[i + 1], rgb[i + 2]


@pytest.mark.parametrize("dpi", [72, 100])
def test_preview_is_a_png_of_the_page_at_the_asked_resolution(dpi):
    png = render_preview_png(corpus.good_letter_cached(), ZONE, dpi=dpi)
    width, height, _ = decode_png(png)
    assert (width, height) == (round(595.28 * dpi / 72 + 0.499), round(841.89 * dpi / 72 + 0.499))


def test_overlay_colours_sit_on_the_zone_geometry():
    data = corpus.good_letter_cached()
    dpi = 100
    result = check_pdf(data, ZONE)
    width, _, rgb = decode_png(render_preview_png(data, ZONE, result, dpi=dpi))
    window = ZONE.address
    # Just inside the window's left edge (the frame is 3 px at 100 dpi), halfway down.
    assert pixel(rgb, width, window.x0 + 0.3, 75, dpi) == WINDOW_RGB
    # The detected address box (blue) is drawn at its measured top-left.
    box = result.address_box_mm
    assert box is not None
    assert pixel(rgb, width, box.x0 + 0.3, box.y0 + 0.3, dpi) == ADDRESS_RGB
    # Inside the empty franking zone: white blended with translucent red.
    r, g, b = pixel(rgb, width, 90, 50, dpi)
    assert r > 200
    assert g == b
    assert g < 200
    # The border strip is tinted too, and the middle of the page is untouched white.
    assert pixel(rgb, width, 2, 150, dpi)[1] < 200
    assert pixel(rgb, width, 150, 150, dpi) == (255, 255, 255)
    assert CLEAR_RGB[0] > CLEAR_RGB[1]


def test_preview_without_result_draws_no_address_box():
    data = corpus.good_letter_cached()
    box = check_pdf(data, ZONE).address_box_mm
    assert box is not None
    width, _, rgb = decode_png(render_preview_png(data, ZONE, dpi=72))
    assert pixel(rgb, width, box.x0 + 0.3, box.y0 + 0.3, 72) != ADDRESS_RGB


def test_each_problem_is_marked_where_it_is():
    data = corpus.text_in_franking_zone()
    result = check_pdf(data, ZONE)
    (problem,) = result.problems
    where = problem.measured["box_mm"]
    dpi = 100
    width, _, rgb = decode_png(render_preview_png(data, ZONE, result, dpi=dpi))
    # The mark frames the text in the franking zone, 0.8 mm outside its box; nothing is marked elsewhere.
    assert pixel(rgb, width, where["x0"] - 0.5, (where["y0"] + where["y1"]) / 2, dpi) == PROBLEM_RGB
    assert pixel(rgb, width, (where["x0"] + where["x1"]) / 2, where["y1"] + 0.5, dpi) == PROBLEM_RGB
    good = check_pdf(corpus.good_letter_cached(), ZONE)
    _, _, clean = decode_png(render_preview_png(corpus.good_letter_cached(), ZONE, good, dpi=dpi))
    assert bytes(PROBLEM_RGB) not in {clean[i : i + 3] for i in range(0, len(clean), 3)}


@pytest.mark.parametrize("build", [corpus.not_a_pdf, corpus.truncated, corpus.encrypted])
def test_unrenderable_files_are_domain_errors(build):
    with pytest.raises(ValidationFailed) as info:
        render_preview_png(build(), ZONE)
    assert info.value.code == "pdf_unreadable"


def test_dpi_is_bounded():
    with pytest.raises(ValidationFailed) as info:
        render_preview_png(corpus.good_letter_cached(), ZONE, dpi=2400)
    assert info.value.code == "invalid_dpi"

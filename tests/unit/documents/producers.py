"""PDFs made by other producers, built in the tests, each with the verdict and the fix the world expects.

The expected glyph boxes come from the font file itself (fontTools reads DejaVu Sans' outlines and advances) or from
the producer's own measurement (cairo's `text_extents`), never from the check. Producers: reportlab, fpdf2, cairo
(cairocffi) and hand-written PDFs (Identity-H CID font, Type3 font). Ghostscript, LibreOffice and Chromium are
heavier: `make corpus` (`heavy_corpus.py`) writes their files to `tests/corpus/` and `test_check_producers.py`
checks them when present.

Default zone: `pingen-left` (window x 22-107.5 x y 60-85.5 mm, franking 20-109.5 x 40-60 mm, 5 mm border).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from typing import Any

from fontTools.ttLib import TTFont
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter, Transformation
from pypdf.generic import NameObject, NumberObject, RectangleObject

from postal.documents.zones import Rect
from tests.unit.documents.pdf_corpus import DEJAVU

PT_MM = 25.4 / 72
A4_PT = (595.2756, 841.8898)
LETTER_PT = (612.0, 792.0)
ADDRESS = ["Muster AG", "Frau Erika Müller", "Bahnhofstrasse 12", "8001 Zürich"]
LINE_MM = 4.5
SIZE_PT = 10.0


# ------------------------------------------------------------------------------------------------ the reference


@cache
def _ttf() -> TTFont:
    return TTFont(DEJAVU)


def glyph_box(
    text: str, x_mm: float, baseline_mm: float, size_pt: float, char_space_pt: float = 0.0, hscale: float = 1.0
) -> Rect:
    """The ink box of `text` set in DejaVu Sans from the font's own outlines: PDF text advance rules (each glyph's
    advance plus `Tc`, all times `Tz`), mm from the top-left."""
    font = _ttf()
    cmap, hmtx, glyf = font.getBestCmap(), font["hmtx"], font["glyf"]
    scale = size_pt / font["head"].unitsPerEm
    pen = 0.0
    xs: list[float] = []
    ys: list[float] = []
    for ch in text:
        name = cmap[ord(ch)]
        glyph = glyf[name]
        if glyph.numberOfContours:
            xs += [pen + glyph.xMin * scale * hscale, pen + glyph.xMax * scale * hscale]
            ys += [glyph.yMin * scale, glyph.yMax * scale]
        pen += (hmtx[name][0] * scale + char_space_pt) * hscale
    return Rect(
        x_mm + min(xs) * PT_MM, x_mm + max(xs) * PT_MM, baseline_mm - max(ys) * PT_MM, baseline_mm - min(ys) * PT_MM
    )


def block_box(lines: list[str], x_mm: float, first_baseline_mm: float, size_pt: float = SIZE_PT, **kw: Any) -> Rect:
    boxes = [glyph_box(s, x_mm, first_baseline_mm + i * LINE_MM, size_pt, **kw) for i, s in enumerate(lines)]
    return Rect(min(b.x0 for b in boxes), max(b.x1 for b in boxes), min(b.y0 for b in boxes), max(b.y1 for b in boxes))


def baseline_for_top(top_mm: float, lines: list[str] = ADDRESS, size_pt: float = SIZE_PT) -> float:
    """The first baseline that puts the block's ink top exactly at `top_mm`."""
    return top_mm + (0 - block_box(lines, 0, 0, size_pt).y0)


# ------------------------------------------------------------------------------------------------ the cases


@dataclass(frozen=True)
class Case:
    """One corpus file: who made it, which zone it is checked against, the problem codes the world expects (a
    set; empty means it must pass) and, where it is a problem, the measured fix (`measured` key -> mm)."""

    name: str
    producer: str
    build: Callable[[], bytes]
    zone_id: str = "pingen-left"
    codes: frozenset[str] = frozenset()
    fixes: dict[str, float] = field(default_factory=dict)
    fix_tolerance: float = 0.0  # 0.1 where the reference is the producer's own (hinted) measurement
    box: Rect | None = None  # the expected address ink box, checked to 0.1 mm where given
    lines: tuple[str, ...] | None = None  # the recipient lines the check must read


def _reportlab(pagesize: tuple[float, float] = A4_PT) -> tuple[Any, BytesIO]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont as RLFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(RLFont("DejaVuRL", DEJAVU))
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=pagesize, initialFontName="DejaVuRL", initialFontSize=SIZE_PT)
    return c, buf


def _rl_lines(
    c: Any, lines: list[str], x_mm: float, first_baseline_mm: float, height_pt: float, **text_state: float
) -> None:
    text = c.beginText()
    text.setFont("DejaVuRL", SIZE_PT)
    if "char_space" in text_state:
        text.setCharSpace(text_state["char_space"])
    if "hscale" in text_state:
        text.setHorizScale(text_state["hscale"])
    for i, line in enumerate(lines):
        text.setTextOrigin(x_mm / PT_MM, height_pt - (first_baseline_mm + i * LINE_MM) / PT_MM)
        text.textLine(line)
    c.drawText(text)


def _rl_body(c: Any, height_pt: float) -> None:
    c.setFont("DejaVuRL", 9)
    for i in range(20):
        c.drawString(25 / PT_MM, height_pt - (110 + i * 5) / PT_MM, f"Body line {i + 1}: the letter text continues.")


def _rl_letter(x_mm: float = 24.0, top_mm: float = 62.0, **text_state: float) -> bytes:
    c, buf = _reportlab()
    h = A4_PT[1]
    _rl_lines(c, ADDRESS, x_mm, baseline_for_top(top_mm), h, **text_state)
    _rl_body(c, h)
    c.showPage()
    c.save()
    return buf.getvalue()


def rl_good() -> bytes:
    return _rl_letter()


def rl_char_spacing() -> bytes:
    """Tc 3 pt: every glyph advance grows, the longest line runs out of the window's right edge."""
    return _rl_letter(x_mm=60.0, char_space=3.0)


def rl_horizontal_scaling() -> bytes:
    """A 130 mm line squeezed to 50 % (Tz 50) fits the window; measured from Unicode it would not."""
    c, buf = _reportlab()
    h = A4_PT[1]
    lines = ["Verwaltungsgenossenschaft Hauptstrasse", *ADDRESS[1:]]
    _rl_lines(c, lines, 24.0, baseline_for_top(62.0), h, hscale=50)
    _rl_body(c, h)
    c.showPage()
    c.save()
    return buf.getvalue()


def rl_clipped_background() -> bytes:
    """A dark background rectangle over the whole top of the page, clipped to a band at y 100-140 mm: nothing
    prints in the franking zone or the border (a bbox check would report both)."""
    c, buf = _reportlab()
    h = A4_PT[1]
    c.saveState()
    path = c.beginPath()
    path.rect(20 / PT_MM, h - 140 / PT_MM, 170 / PT_MM, 40 / PT_MM)
    c.clipPath(path, stroke=0, fill=0)
    c.setFillGray(0.2)
    c.rect(0, 0, A4_PT[0], h, stroke=0, fill=1)
    c.restoreState()
    _rl_lines(c, ADDRESS, 24.0, baseline_for_top(62.0), h)
    c.showPage()
    c.save()
    return buf.getvalue()


def rl_white_box_in_franking() -> bytes:
    """A dark rectangle in the franking zone (x 30-50, y 45-55 mm)."""
    c, buf = _reportlab()
    h = A4_PT[1]
    c.setFillGray(0.3)
    c.rect(30 / PT_MM, h - 55 / PT_MM, 20 / PT_MM, 10 / PT_MM, stroke=0, fill=1)
    _rl_lines(c, ADDRESS, 24.0, baseline_for_top(62.0), h)
    c.showPage()
    c.save()
    return buf.getvalue()


def rl_ink_left_edge_just_outside() -> bytes:
    """The ink starts at x 21.99 mm, 0.01 mm left of the window: the fix is 0.1 mm, never '0 mm'."""
    lsb = block_box(ADDRESS, 0, 0).x0  # the leftmost ink of the block ('8' has the smallest side bearing)
    return _rl_letter(x_mm=21.99 - lsb)


def rl_just_inside_the_window() -> bytes:
    """The ink top is 0.3 mm below the window's top edge (60.3 mm), right under the franking zone."""
    return _rl_letter(top_mm=60.3)


def rl_too_low(mm: float = 12.75) -> bytes:
    """The block's bottom runs `mm` below the window (85.5 mm): move up `mm`."""
    height = block_box(ADDRESS, 0, 0).y1 - block_box(ADDRESS, 0, 0).y0
    return _rl_letter(top_mm=85.5 + mm - height)


def rl_letter_size() -> bytes:
    """A US Letter page with the address in the #10 double window (x 12.7-101.6, y 51.9-74.1 mm)."""
    c, buf = _reportlab(LETTER_PT)
    h = LETTER_PT[1]
    _rl_lines(c, ADDRESS, 14.0, baseline_for_top(54.0), h)
    _rl_body(c, h)
    c.showPage()
    c.save()
    return buf.getvalue()


def rl_rotated_portrait() -> bytes:
    """A landscape MediaBox with /Rotate 90 whose content is drawn turned: shown (and printed) as an A4 portrait
    letter with the address in the window, as a viewer shows it."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(rl_good())))
    page = writer.pages[0]
    w, h = A4_PT
    # /Rotate 90 turns the page clockwise for display; draw the portrait content turned counter-clockwise.
    page.add_transformation(Transformation().rotate(90).translate(h, 0))
    page.mediabox = RectangleObject([0, 0, h, w])
    page.cropbox = RectangleObject([0, 0, h, w])
    page[NameObject("/Rotate")] = NumberObject(90)
    return _write(writer)


def rl_rotated_landscape() -> bytes:
    """The good letter with /Rotate 90 added: it is shown (and printed) landscape."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(rl_good())))
    writer.pages[0][NameObject("/Rotate")] = NumberObject(90)
    return _write(writer)


def rl_cropbox_offset() -> bytes:
    """MediaBox = CropBox = [100 200 695.28 1041.89]: the same letter with its user space shifted; positions are
    measured from the shown page's corner."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(rl_good())))
    page = writer.pages[0]
    page.add_transformation(Transformation().translate(100, 200))
    box = RectangleObject([100, 200, 100 + A4_PT[0], 200 + A4_PT[1]])
    page.mediabox = box
    page.cropbox = box
    return _write(writer)


def rl_bleed_cropbox() -> bytes:
    """A 3 mm bleed MediaBox around an A4 CropBox: which box the printer uses is unconfirmed, so it is refused."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(rl_good())))
    page = writer.pages[0]
    bleed = 3 / PT_MM
    page.mediabox = RectangleObject([-bleed, -bleed, A4_PT[0] + bleed, A4_PT[1] + bleed])
    page.cropbox = RectangleObject([0, 0, *A4_PT])
    return _write(writer)


def _write(writer: PdfWriter) -> bytes:
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def fpdf_letter(
    x_mm: float = 24.0, top_mm: float = 62.0, lines: list[str] = ADDRESS, extra: Callable[[FPDF], object] | None = None
) -> bytes:
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", fname=DEJAVU)
    pdf.add_page()
    pdf.set_font("DejaVu", size=SIZE_PT)
    baseline = baseline_for_top(top_mm, lines)
    for i, line in enumerate(lines):
        pdf.text(x_mm, baseline + i * LINE_MM, line)
    pdf.set_font("DejaVu", size=9)
    for i in range(20):
        pdf.text(25, 110 + i * 5, f"Body line {i + 1}: the letter text continues.")
    if extra is not None:
        extra(pdf)
    return bytes(pdf.output())


def fpdf_right_window() -> bytes:
    """A right-window layout (Pingen right: x 118, y 60)."""
    return fpdf_letter(x_mm=120.0)


def fpdf_din_return_line() -> bytes:
    """DIN 5008 form B: a 7 pt return line at the bottom of the remark zone (45-62.7), the address below."""

    def return_line(pdf: FPDF) -> None:
        pdf.set_font("DejaVu", size=7)
        pdf.text(25, 61.2, "Sender GmbH · Weg 1 · 3000 Bern")

    return fpdf_letter(x_mm=25.0, top_mm=63.6, extra=return_line)


RETURN_LINE = "Sender GmbH · Weg 1 · 3000 Bern · Schweiz"
RETURN_LINE_X = 70.0


def fpdf_din_return_line_out_of_the_field() -> bytes:
    """DIN 5008 B: the return line starts at x 70 and runs past the field's right edge (105 mm)."""

    def return_line(pdf: FPDF) -> None:
        pdf.set_font("DejaVu", size=7)
        pdf.text(RETURN_LINE_X, 61.2, RETURN_LINE)

    return fpdf_letter(x_mm=25.0, top_mm=63.6, extra=return_line)


def fpdf_left_window_letter_against_a_right_window_standard() -> bytes:
    """A DIN 5008 B layout (x 25, y 63.6) checked against SN 010130 right (x 112-202): far from that window."""
    return fpdf_letter(x_mm=25.0, top_mm=63.6)


def fpdf_pingen_sender_line() -> bytes:
    """Pingen left: a 7 pt sender line at the top of the window, the recipient 1 mm below it."""

    def sender_line(pdf: FPDF) -> None:
        pdf.set_font("DejaVu", size=7)
        pdf.text(24, 62.5, "Sender GmbH · Weg 1 · 3000 Bern")

    return fpdf_letter(top_mm=64.5, extra=sender_line)


def fpdf_invisible_text_over_scan() -> bytes:
    """A scanned page with an invisible OCR layer (render mode 3) in the window: nothing readable prints there."""

    def scan(pdf: FPDF) -> None:
        from tests.unit.documents.pdf_corpus import _png

        pdf.image(BytesIO(_png(40, 20, grey=120)), x=22, y=62, w=60, h=18)

    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("DejaVu", fname=DEJAVU)
    pdf.add_page()
    scan(pdf)
    pdf.set_font("DejaVu", size=SIZE_PT)
    with pdf.local_context(text_mode="INVISIBLE"):
        for i, line in enumerate(ADDRESS):
            pdf.text(24, 66 + i * LINE_MM, line)
    return bytes(pdf.output())


def fpdf_white_address() -> bytes:
    """The address in white on white: it does not print."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("DejaVu", fname=DEJAVU)
    pdf.add_page()
    pdf.set_font("DejaVu", size=SIZE_PT)
    pdf.set_text_color(255, 255, 255)
    for i, line in enumerate(ADDRESS):
        pdf.text(24, 66 + i * LINE_MM, line)
    return bytes(pdf.output())


def fpdf_footer_in_border_on_page_3() -> bytes:
    """Three pages; page 3's footer sits 3 mm from the bottom edge (inside Pingen's 5 mm border)."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", fname=DEJAVU)
    for number in range(3):
        pdf.add_page()
        pdf.set_font("DejaVu", size=SIZE_PT)
        if number == 0:
            baseline = baseline_for_top(62.0)
            for i, line in enumerate(ADDRESS):
                pdf.text(24, baseline + i * LINE_MM, line)
        pdf.set_font("DejaVu", size=8)
        pdf.text(90, 294 if number == 2 else 285, f"Page {number + 1} of 3")
    return bytes(pdf.output())


# -- hand-written PDFs -------------------------------------------------------------------------------------------


def _raw(page_content: bytes, resources: bytes, objects: list[bytes], media: tuple[float, float] = A4_PT) -> bytes:
    """A one-page PDF: objects 1-3 are catalog, pages and page; 4 the content; `objects` are 5, 6, ..."""
    content = zlib.compress(page_content)
    all_objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Resources %s /Contents 4 0 R >>"
        % (media[0], media[1], resources),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        *objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(all_objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(all_objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(all_objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data)
    return b"<< /Length %d /Filter /FlateDecode %s >>\nstream\n" % (len(packed), extra) + packed + b"\nendstream"


def raw_identity_h(x_mm: float = 24.0, top_mm: float = 62.0) -> bytes:
    """DejaVu Sans embedded whole as a CIDFontType2 with Identity-H: the text is 2-byte glyph ids, which only the
    font's CMap and /W array turn into characters and widths."""
    font = _ttf()
    cmap, hmtx = font.getBestCmap(), font["hmtx"]
    upm = font["head"].unitsPerEm
    used = sorted({font.getGlyphID(cmap[ord(ch)]) for line in ADDRESS for ch in line})
    widths = b" ".join(b"%d [%d]" % (gid, round(hmtx[font.getGlyphName(gid)][0] * 1000 / upm)) for gid in used)
    to_unicode = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /U def\n"
    to_unicode += b"1 begincodespacerange <0000> <FFFF> endcodespacerange\n%d beginbfchar\n" % len(used)
    for gid in used:
        char = next(ch for line in ADDRESS for ch in line if font.getGlyphID(cmap[ord(ch)]) == gid)
        to_unicode += b"<%04X> <%04X>\n" % (gid, ord(char))
    to_unicode += b"endbfchar endcmap CMapName currentdict /CMap defineresource pop end end"
    text = b"BT /F1 10 Tf\n"
    baseline = baseline_for_top(top_mm)
    for i, line in enumerate(ADDRESS):
        y_pt = A4_PT[1] - (baseline + i * LINE_MM) / PT_MM
        gids = b"".join(b"%04X" % font.getGlyphID(cmap[ord(ch)]) for ch in line)
        text += b"1 0 0 1 %.4f %.4f Tm <%s> Tj\n" % (x_mm / PT_MM, y_pt, gids)
    text += b"ET"
    ttf = open(DEJAVU, "rb").read()  # noqa: SIM115 -- read once per build
    objects = [
        b"<< /Type /Font /Subtype /Type0 /BaseFont /DejaVuSans /Encoding /Identity-H /DescendantFonts [6 0 R] "
        b"/ToUnicode 9 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /DejaVuSans /CIDSystemInfo << /Registry (Adobe) "
        b"/Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R /CIDToGIDMap /Identity /DW 1000 /W [%s] >>"
        % widths,
        b"<< /Type /FontDescriptor /FontName /DejaVuSans /Flags 32 /FontBBox [-2090 -948 3673 2524] /ItalicAngle 0 "
        b"/Ascent 928 /Descent -236 /CapHeight 729 /StemV 80 /FontFile2 8 0 R >>",
        _stream(ttf, b"/Length1 %d" % len(ttf)),
        _stream(to_unicode),
    ]
    return _raw(text, b"<< /Font << /F1 5 0 R >> >>", objects)


TYPE3_ADVANCE = 600  # glyph space units (FontMatrix 0.001): 6 pt per glyph at 10 pt
TYPE3_INK = (50, 550, 0, 700)  # every glyph is a filled box x 50-550, y 0-700


def type3_box(lines: list[str], x_mm: float, first_baseline_mm: float) -> Rect:
    """The ink of the Type3 test font: each glyph a box 0.5 em wide and 0.7 em tall, advancing 0.6 em."""
    size_mm = SIZE_PT * PT_MM
    x0, x1, _, top = (v / 1000 * size_mm for v in TYPE3_INK)
    longest = max(len(s) for s in lines)
    return Rect(
        x_mm + x0,
        x_mm + (longest - 1) * TYPE3_ADVANCE / 1000 * size_mm + x1,
        first_baseline_mm - top,
        first_baseline_mm + (len(lines) - 1) * LINE_MM,
    )


TYPE3_LINES = ["MUSTER AG", "ERIKA MUSTER", "BAHNHOFSTRASSE", "ZUERICH"]


def raw_type3(x_mm: float = 24.0, first_baseline_mm: float = 68.0) -> bytes:
    """A Type3 font whose glyphs are content streams (boxes), named by /Differences so text maps to letters."""
    letters = sorted({ch for line in TYPE3_LINES for ch in line if ch != " "})
    procs = b" ".join(b"/%s %d 0 R" % (ch.encode(), 7 + i) for i, ch in enumerate(letters))
    differences = b" ".join(b"%d /%s" % (ord(ch), ch.encode()) for ch in letters)
    glyph = b"%d 0 %d %d %d %d d1 %d %d %d %d re f" % (
        TYPE3_ADVANCE, TYPE3_INK[0], TYPE3_INK[2], TYPE3_INK[1], TYPE3_INK[3],
        TYPE3_INK[0], TYPE3_INK[2], TYPE3_INK[1] - TYPE3_INK[0], TYPE3_INK[3] - TYPE3_INK[2],
    )  # fmt: skip
    text = b"BT /T3 10 Tf\n"
    for i, line in enumerate(TYPE3_LINES):
        y_pt = A4_PT[1] - (first_baseline_mm + i * LINE_MM) / PT_MM
        text += b"1 0 0 1 %.4f %.4f Tm (%s) Tj\n" % (x_mm / PT_MM, y_pt, line.encode())
    text += b"ET"
    widths = b" ".join(b"%d" % (TYPE3_ADVANCE if chr(c) in letters or c == 32 else 0) for c in range(32, 91))
    objects = [
        b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 600 700] /FontMatrix [0.001 0 0 0.001 0 0] "
        b"/CharProcs 6 0 R /Encoding << /Type /Encoding /Differences [%s] >> /FirstChar 32 /LastChar 90 "
        b"/Widths [%s] /Resources << >> >>" % (differences, widths),
        b"<< %s >>" % procs,
        *[_stream(glyph) for _ in letters],
    ]
    return _raw(text, b"<< /Font << /T3 5 0 R >> >>", objects)


# -- cairo -------------------------------------------------------------------------------------------------------


def cairo_letter(x_mm: float = 24.0, first_baseline_mm: float = 66.0) -> tuple[bytes, Rect]:
    """A cairo PDFSurface letter (cairo subsets and embeds the font itself); the expected ink box is cairo's own
    `text_extents` of each line."""
    import cairocffi as cairo

    buf = BytesIO()
    surface = cairo.PDFSurface(buf, *A4_PT)
    ctx = cairo.Context(surface)
    ctx.select_font_face("DejaVu Sans")
    ctx.set_font_size(SIZE_PT)
    boxes = []
    for i, line in enumerate(ADDRESS):
        x, y = x_mm / PT_MM, (first_baseline_mm + i * LINE_MM) / PT_MM
        xb, yb, w, h, _, _ = ctx.text_extents(line)
        boxes.append(Rect((x + xb) * PT_MM, (x + xb + w) * PT_MM, (y + yb) * PT_MM, (y + yb + h) * PT_MM))
        ctx.move_to(x, y)
        ctx.show_text(line)
    ctx.set_font_size(9)
    for i in range(15):
        ctx.move_to(25 / PT_MM, (110 + i * 5) / PT_MM)
        ctx.show_text(f"Body line {i + 1}: the letter text continues.")
    surface.finish()
    box = Rect(min(b.x0 for b in boxes), max(b.x1 for b in boxes), min(b.y0 for b in boxes), max(b.y1 for b in boxes))
    return buf.getvalue(), box


@cache
def cairo_good() -> bytes:
    return cairo_letter()[0]


@cache
def cairo_too_far_right() -> bytes:
    return cairo_letter(x_mm=80.0)[0]


def cairo_box(x_mm: float = 24.0) -> Rect:
    return cairo_letter(x_mm=x_mm)[1]


# ------------------------------------------------------------------------------------------------ the list
# Distances in the fix cases end in .x5 mm: the fix rounds up to 0.1 mm, and PDFium's glyph boxes agree with the
# font file's to about 0.04 mm, so a distance of exactly 7.7 mm could fairly be reported as 7.7 or 7.8.


def cases() -> list[Case]:
    """Every in-test corpus file with its expected verdict."""
    addr = tuple(ADDRESS)
    good_box = block_box(ADDRESS, 24.0, baseline_for_top(62.0))
    tc_box = block_box(ADDRESS, 60.0, baseline_for_top(62.0), char_space_pt=3.0)
    return [
        Case("reportlab good letter", "reportlab", rl_good, box=good_box, lines=addr),
        Case(
            "reportlab Tc 3 pt runs out of the window",
            "reportlab",
            rl_char_spacing,
            codes=frozenset({"address_outside_window"}),
            fixes={"move_left_mm": _ceil(tc_box.x1 - 107.5)},
            box=tc_box,
        ),
        Case("reportlab Tz 50 % fits", "reportlab", rl_horizontal_scaling),
        Case("reportlab clipped background", "reportlab", rl_clipped_background, box=good_box),
        Case(
            "reportlab rectangle in the franking zone",
            "reportlab",
            rl_white_box_in_franking,
            codes=frozenset({"content_in_clear_zone"}),
        ),
        Case(
            "reportlab ink 0.01 mm left of the window",
            "reportlab",
            rl_ink_left_edge_just_outside,
            codes=frozenset({"address_outside_window"}),
            fixes={"move_right_mm": 0.1},
        ),
        Case("reportlab ink 0.3 mm inside the window's top", "reportlab", rl_just_inside_the_window),
        Case(
            "reportlab address 12.75 mm too low",
            "reportlab",
            rl_too_low,
            codes=frozenset({"address_outside_window"}),
            fixes={"move_up_mm": 12.8},
        ),
        Case("reportlab US Letter in the #10 window", "reportlab", rl_letter_size, zone_id="us10-double-window"),
        Case(
            "reportlab US Letter against an A4 standard",
            "reportlab",
            rl_letter_size,
            codes=frozenset({"wrong_page_size", "address_outside_window", "content_in_clear_zone"}),
        ),
        Case("reportlab /Rotate 90 shown portrait", "reportlab", rl_rotated_portrait, box=good_box, lines=addr),
        Case(
            "reportlab /Rotate 90 shown landscape",
            "reportlab",
            rl_rotated_landscape,
            codes=frozenset({"wrong_page_size"}),
        ),
        Case("reportlab CropBox offset", "reportlab", rl_cropbox_offset, box=good_box, lines=addr),
        Case("reportlab bleed MediaBox", "reportlab", rl_bleed_cropbox, codes=frozenset({"cropbox_mismatch"})),
        Case("fpdf2 good letter", "fpdf2", fpdf_letter, box=good_box, lines=addr),
        Case(
            "fpdf2 right-window layout against a left-window standard",
            "fpdf2",
            fpdf_right_window,
            codes=frozenset({"address_wrong_side"}),
        ),
        Case("fpdf2 right-window layout against pingen-right", "fpdf2", fpdf_right_window, zone_id="pingen-right"),
        Case("fpdf2 DIN 5008 B with a return line", "fpdf2", fpdf_din_return_line, zone_id="din5008-b", lines=addr),
        Case(
            "fpdf2 DIN 5008 B return line past the field",
            "fpdf2",
            fpdf_din_return_line_out_of_the_field,
            zone_id="din5008-b",
            codes=frozenset({"return_line_outside_zone"}),
            fixes={"move_left_mm": _ceil(glyph_box(RETURN_LINE, RETURN_LINE_X, 61.2, 7).x1 - 105.0)},
            lines=addr,
        ),
        Case("fpdf2 Pingen sender line above the recipient", "fpdf2", fpdf_pingen_sender_line, lines=addr),
        Case(
            "fpdf2 left-window layout against a right-window standard",
            "fpdf2",
            fpdf_left_window_letter_against_a_right_window_standard,
            zone_id="sn010130-right",
            codes=frozenset({"address_wrong_side"}),
        ),
        Case(
            "fpdf2 invisible OCR text over a scan",
            "fpdf2",
            fpdf_invisible_text_over_scan,
            codes=frozenset({"address_not_machine_readable"}),
        ),
        Case("fpdf2 white address", "fpdf2", fpdf_white_address, codes=frozenset({"address_not_found"})),
        Case(
            "fpdf2 footer in the border on page 3",
            "fpdf2",
            fpdf_footer_in_border_on_page_3,
            codes=frozenset({"content_in_clear_zone"}),
        ),
        Case("hand-written Identity-H CID font", "raw", raw_identity_h, box=good_box, lines=addr),
        Case(
            "hand-written Identity-H CID font 7.75 mm too high",
            "raw",
            lambda: raw_identity_h(top_mm=60.0 - 7.75),
            codes=frozenset({"address_outside_window", "content_in_clear_zone"}),
            fixes={"move_down_mm": 7.8},
        ),
        Case(
            "hand-written Type3 font",
            "raw",
            raw_type3,
            box=type3_box(TYPE3_LINES, 24.0, 68.0),
            lines=tuple(TYPE3_LINES),
        ),
        Case(
            "hand-written Type3 font too far right",
            "raw",
            lambda: raw_type3(x_mm=90.0),
            codes=frozenset({"address_outside_window"}),
            fixes={"move_left_mm": _ceil(type3_box(TYPE3_LINES, 90.0, 68.0).x1 - 107.5)},
        ),
        Case("cairo good letter", "cairo", cairo_good, box=cairo_box(), lines=addr),
        Case(
            "cairo address too far right",
            "cairo",
            cairo_too_far_right,
            codes=frozenset({"address_outside_window"}),
            fixes={"move_left_mm": _ceil(cairo_box(80.0).x1 - 107.5)},
            fix_tolerance=0.1,
        ),
    ]


def _ceil(mm: float) -> float:
    """The move a fix must name: rounded up to 0.1 mm (a rounded-down move would leave the block outside)."""
    import math

    return max(0.1, math.ceil(round(mm * 10, 6)) / 10)

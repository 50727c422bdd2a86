"""A page as PDFium sees it: its characters grouped into lines, and a low-resolution greyscale raster for ink."""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from postal.documents.check.limits import (
    _UNPAINTED,
    _WHITESPACE,
    INK_BELOW,
    LOOSE_HEIGHT_EM,
    MAX_DESCRIBED_OBJECTS,
    MAX_WORD_GAP_EM,
    PROGRESSIVE_FROM_OPERATIONS,
    SPACE_GAP_EM,
    _Clock,
    _TooComplex,
)
from postal.documents.check.results import AddressLine, _line_rect, _union
from postal.documents.zones import MM_PER_PT, Rect


@dataclass
class _Char:
    code: int
    box: Rect  # glyph ink, mm
    baseline: float  # mm from the top
    em: float  # font size, mm


class _PdfiumPage:
    """One page as PDFium shows it: size after /Rotate and the CropBox, a greyscale raster, the text page."""

    def __init__(self, doc: pdfium.PdfDocument, index: int, dpi: int, clock: _Clock, operations: int):
        self.page = doc[index]
        self.clock = clock
        self.operations = operations
        self.dpi = dpi
        w_pt, h_pt = self.page.get_size()
        self.width_mm, self.height_mm = w_pt * MM_PER_PT, h_pt * MM_PER_PT
        self.rotation = self.page.get_rotation()
        self._matrix = self._page_to_mm(w_pt, h_pt)
        self.px_per_mm = dpi / 25.4
        self.width_px = max(1, round(self.width_mm * self.px_per_mm))
        self.height_px = max(1, round(self.height_mm * self.px_per_mm))
        self._raster: bytes | None = None
        self.pitch = self.width_px
        self._textpage: pdfium.PdfTextPage | None = None

    def close(self) -> None:
        if self._textpage is not None:
            self._textpage.close()
        self.page.close()

    def _page_to_mm(self, w_pt: float, h_pt: float) -> tuple[float, float, float, float, float, float]:
        """The affine map from PDF user space to mm from the top-left of the shown page (PDFium's own mapping,
        so /Rotate and the CropBox origin are applied exactly as when rendering)."""
        # Device units of 1/1000 pt keep the integer device coordinates precise.
        width, height = round(w_pt * 1000), round(h_pt * 1000)
        dx, dy = ctypes.c_int(), ctypes.c_int()
        points = []
        for x, y in ((0.0, 0.0), (1000.0, 0.0), (0.0, 1000.0)):
            pdfium_c.FPDF_PageToDevice(self.page.raw, 0, 0, width, height, 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
            points.append((dx.value / 1000 * MM_PER_PT, dy.value / 1000 * MM_PER_PT))
        (ox, oy), (ax, ay), (bx, by) = points
        return ((ax - ox) / 1000, (ay - oy) / 1000, (bx - ox) / 1000, (by - oy) / 1000, ox, oy)

    def to_mm(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, e, f = self._matrix
        return a * x + c * y + e, b * x + d * y + f

    def rect_to_mm(self, left: float, bottom: float, right: float, top: float) -> Rect:
        x0, y0 = self.to_mm(left, bottom)
        x1, y1 = self.to_mm(right, top)
        return Rect(min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1))

    # -- raster ----------------------------------------------------------------------------------------------

    @property
    def raster(self) -> bytes:
        if self._raster is None:
            self._raster = self._render()
        return self._raster

    def _render(self) -> bytes:
        """Greyscale, as printed (annotations with their print appearance). A heavy page is rendered
        progressively so that the CPU budget can stop it between page objects; a letter page (a few thousand
        operations, about a millisecond) is rendered in one call, without a Python callback per object."""
        w, h = self.width_px, self.height_px
        # Our own buffer, white to the end of each 4-byte aligned row, so a row's padding never reads as ink.
        pitch = (w + 3) // 4 * 4
        buffer = ctypes.create_string_buffer(pitch * h)
        ctypes.memset(buffer, 0xFF, pitch * h)
        bitmap = pdfium_c.FPDFBitmap_CreateEx(w, h, pdfium_c.FPDFBitmap_Gray, buffer, pitch)
        if not bitmap:
            raise MemoryError("PDFium could not allocate the page raster")
        clock = self.clock
        flags = pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_PRINTING
        try:
            if self.operations <= PROGRESSIVE_FROM_OPERATIONS:
                pdfium_c.FPDF_RenderPageBitmap(bitmap, self.page.raw, 0, 0, w, h, 0, flags)
            else:
                pause = pdfium_c.IFSDK_PAUSE(version=1)
                pause.NeedToPauseNow = type(pause.NeedToPauseNow)(lambda _self: clock.over())
                status = pdfium_c.FPDF_RenderPageBitmap_Start(bitmap, self.page.raw, 0, 0, w, h, 0, flags, pause)
                while status == pdfium_c.FPDF_RENDER_TOBECONTINUED:
                    if clock.over():
                        pdfium_c.FPDF_RenderPage_Close(self.page.raw)
                        raise _TooComplex(f"rendering it needs more than {clock.budget_s:g} s of CPU")
                    status = pdfium_c.FPDF_RenderPage_Continue(self.page.raw, pause)
                pdfium_c.FPDF_RenderPage_Close(self.page.raw)
        finally:
            pdfium_c.FPDFBitmap_Destroy(bitmap)
        self.pitch = pitch
        return buffer.raw

    def ink_box(self, rect: Rect) -> Rect | None:
        """The box of the ink inside `rect` (mm), counting only pixels wholly inside it: a glyph that ends on
        the zone's edge is not in the zone, whatever the anti-aliasing."""
        k = self.px_per_mm
        x0, x1 = max(0, math.ceil(rect.x0 * k - 1e-6)), min(self.width_px, math.floor(rect.x1 * k + 1e-6))
        y0, y1 = max(0, math.ceil(rect.y0 * k - 1e-6)), min(self.height_px, math.floor(rect.y1 * k + 1e-6))
        if x0 >= x1 or y0 >= y1:
            return None
        raster = self.raster
        w = self.pitch
        # Almost always the zone is empty: decide that with a few C-speed strided slices (a column each for a
        # narrow strip, a contiguous block for full-width rows) before locating any ink row by row.
        if x0 == 0 and x1 == self.width_px:
            empty = min(raster[y0 * w : y1 * w]) >= INK_BELOW
        elif x1 - x0 < y1 - y0:
            empty = all(min(raster[y0 * w + x : (y1 - 1) * w + x + 1 : w]) >= INK_BELOW for x in range(x0, x1))
        else:
            empty = False  # decided row by row below
        if empty:
            return None
        top = bottom = left = right = -1
        for y in range(y0, y1):
            row = raster[y * w + x0 : y * w + x1]
            if min(row) >= INK_BELOW:
                continue
            ink = row.translate(_INK_TABLE)
            first, last = ink.find(1), ink.rfind(1)
            if top < 0:
                top, left, right = y, first, last
            bottom = y
            left, right = min(left, first), max(right, last)
        if top < 0:
            return None
        return Rect((x0 + left) / k, (x0 + right + 1) / k, top / k, (bottom + 1) / k)

    def has_ink(self, rect: Rect) -> bool:
        """Whether anything prints inside `rect`, counting the pixels it touches (for text lines, not zones)."""
        k = self.px_per_mm
        x0, x1 = max(0, math.floor(rect.x0 * k)), min(self.width_px, math.ceil(rect.x1 * k))
        y0, y1 = max(0, math.floor(rect.y0 * k)), min(self.height_px, math.ceil(rect.y1 * k))
        raster = self.raster
        w = self.pitch
        return any(min(raster[y * w + x0 : y * w + x1] or b"\xff") < INK_BELOW for y in range(y0, y1))

    # -- text ------------------------------------------------------------------------------------------------

    def chars(self, band: tuple[float, float] | None = None) -> list[_Char]:
        """The page's printable characters; with `band`, only those whose baseline lies in y band[0]..band[1] mm
        (one cheap PDFium call per character decides, the box calls are made for the few that count)."""
        if self._textpage is None:
            self._textpage = self.page.get_textpage()
        tp = self._textpage.raw
        count = pdfium_c.FPDFText_CountChars(tp)
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        ox, oy = ctypes.c_double(), ctypes.c_double()
        # byref objects are reusable: made once, not per character.
        refs = [ctypes.byref(v) for v in (left, right, bottom, top)]
        loose = pdfium_c.FS_RECTF()
        loose_ref = ctypes.byref(loose)
        get_box = pdfium_c.FPDFText_GetCharBox
        text_page = ctypes.cast(tp, ctypes.c_void_p)
        origin = (ctypes.pointer(ox), ctypes.pointer(oy))
        _, b, _, d, _, f = self._matrix
        lo, hi = band if band is not None else (-math.inf, math.inf)
        out: list[_Char] = []
        for i in range(count):
            if i % 4096 == 4095:
                self.clock.check("reading the text")
            _char_origin(text_page, i, *origin)
            baseline = b * ox.value + d * oy.value + f
            if not lo <= baseline <= hi:
                continue
            code = pdfium_c.FPDFText_GetUnicode(tp, i)
            if code in _WHITESPACE or pdfium_c.FPDFText_IsGenerated(tp, i) == 1:
                continue
            text_object = pdfium_c.FPDFText_GetTextObject(tp, i)
            if text_object and pdfium_c.FPDFTextObj_GetTextRenderMode(text_object) in _UNPAINTED:
                continue  # invisible (an OCR layer over a scan) or clip-only text prints nothing
            get_box(tp, i, *refs)
            pdfium_c.FPDFText_GetLooseCharBox(tp, i, loose_ref)
            box = self.rect_to_mm(left.value, bottom.value, right.value, top.value)
            loose_box = self.rect_to_mm(loose.left, loose.bottom, loose.right, loose.top)
            if box.x1 <= box.x0 and box.y1 <= box.y0:
                continue  # no glyph (a zero-width control character)
            out.append(_Char(code, box, baseline, (loose_box.y1 - loose_box.y0) / LOOSE_HEIGHT_EM))
        return out

    def lines(self, band: tuple[float, float] | None = None) -> list[AddressLine]:
        """Page text grouped into lines that print (a line whose box holds no ink is invisible or clipped)."""
        return [line for line in _group_lines(self.chars(band)) if self.has_ink(_line_rect(line))]

    def objects_in(self, rect: Rect) -> list[str]:
        """The kinds of top-level page objects whose bounds overlap `rect` (for messages: text, path, image...)."""
        kinds: set[str] = set()
        left, bottom, right, top = (ctypes.c_float() for _ in range(4))
        # The kinds only word a message: the first objects say enough, and a page of 100,000 paths must not
        # spend the CPU budget on it.
        for i in range(min(pdfium_c.FPDFPage_CountObjects(self.page.raw), MAX_DESCRIBED_OBJECTS)):
            obj = pdfium_c.FPDFPage_GetObject(self.page.raw, i)
            if not pdfium_c.FPDFPageObj_GetBounds(
                obj, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)
            ):
                continue
            if self.rect_to_mm(left.value, bottom.value, right.value, top.value).overlaps(rect):
                kinds.add(_OBJECT_KINDS.get(pdfium_c.FPDFPageObj_GetType(obj), "graphics"))
        return sorted(kinds)


# FPDFText_GetCharOrigin runs once per character of page 1 (1,600 on a letter). pypdfium2 declares typed pointer
# arguments, whose per-call checks cost a third of the loop; the same C function behind untyped pointers does not.
_CHAR_ORIGIN_ADDRESS = ctypes.cast(pdfium_c.FPDFText_GetCharOrigin, ctypes.c_void_p).value


assert _CHAR_ORIGIN_ADDRESS is not None


_char_origin = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(
    _CHAR_ORIGIN_ADDRESS
)


_INK_TABLE = bytes(1 if v < INK_BELOW else 0 for v in range(256))


_OBJECT_KINDS = {
    pdfium_c.FPDF_PAGEOBJ_TEXT: "text",
    pdfium_c.FPDF_PAGEOBJ_PATH: "path",
    pdfium_c.FPDF_PAGEOBJ_IMAGE: "image",
    pdfium_c.FPDF_PAGEOBJ_SHADING: "shading",
    pdfium_c.FPDF_PAGEOBJ_FORM: "form",
}


def _group_lines(chars: list[_Char]) -> list[AddressLine]:
    """Characters on one baseline (within a third of an em) and close together are one line."""
    rows: list[list[_Char]] = []
    for char in sorted(chars, key=lambda c: c.baseline):
        if rows and abs(char.baseline - rows[-1][-1].baseline) <= 0.33 * max(char.em, rows[-1][-1].em):
            rows[-1].append(char)
        else:
            rows.append([char])
    lines: list[AddressLine] = []
    for row in rows:
        row.sort(key=lambda c: c.box.x0)
        run: list[_Char] = [row[0]]
        right = row[0].box.x1
        for char in row[1:]:
            if char.box.x0 - right > MAX_WORD_GAP_EM * max(char.em, run[-1].em):
                lines.append(_line(run))
                run, right = [], char.box.x1
            run.append(char)
            right = max(right, char.box.x1)
        lines.append(_line(run))
    return lines


def _line(chars: list[_Char]) -> AddressLine:
    text = []
    right = None
    for char in chars:
        if right is not None and char.box.x0 - right > SPACE_GAP_EM * char.em:
            text.append(" ")
        text.append(chr(char.code))
        right = char.box.x1 if right is None else max(right, char.box.x1)
    box = _union([c.box for c in chars])
    em = max(c.em for c in chars)
    baseline = sorted(c.baseline for c in chars)[len(chars) // 2]
    return AddressLine(
        text="".join(text),
        x0=round(box.x0, 2),
        x1=round(box.x1, 2),
        y0=round(box.y0, 2),
        y1=round(box.y1, 2),
        baseline=round(baseline, 2),
        size_pt=round(em / MM_PER_PT, 1),
    )

"""PNG preview of page 1 with the window standard drawn on top (PRODUCT.md: "a PNG preview of page 1").

What it shows: the page as PDFium renders it, the address window (green), the clear zones and the border
(translucent red), the detected address block (blue: the block's box and each line) and the return-address line
(light blue), and a mark on each problem where it is (a thick magenta frame around the measured box).

Rendering is pypdfium2; the overlay and the PNG encoding are done on the raw RGB buffer with the standard library,
so the Lambda layer needs no Pillow.
"""

from __future__ import annotations

import struct
import zlib

import pypdfium2 as pdfium

from postal.documents.check import CheckResult
from postal.documents.zones import Rect, Zone
from postal.errors import DomainError, ValidationFailed

MIN_DPI, MAX_DPI = 18, 300
# A4 at 300 dpi is 8.7 Mpx; anything much larger is an oversized page, not a letter.
MAX_PIXELS = 12_000_000
WINDOW_RGB = (0, 160, 0)
ADDRESS_RGB = (0, 70, 255)
CLEAR_RGB = (230, 0, 0)
RETURN_RGB = (0, 170, 230)
PROBLEM_RGB = (220, 0, 200)
CLEAR_ALPHA = 0.3
# zlib level 3: a fraction of the time of level 6 on mostly-white pages, and barely larger.
PNG_COMPRESSION = 3


def render_preview_png(data: bytes, zone: Zone, result: CheckResult | None = None, dpi: int = 72) -> bytes:
    """Render page 1 to PNG with the address window (green), clear zones and border (translucent red) and,
    when `result` is given, the detected address block (blue). Coordinates are mm against the CropBox.

    Raises `ValidationFailed` (`invalid_dpi`, `preview_too_large`, `pdf_unreadable`); never another exception.
    """
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise ValidationFailed(
            f"dpi must be between {MIN_DPI} and {MAX_DPI}, got {dpi}",
            code="invalid_dpi",
            fix=f"ask for a preview between {MIN_DPI} and {MAX_DPI} dpi (72 is the default)",
        )
    try:
        rgb, width, height = _render_first_page(data, dpi)
    except DomainError:
        raise
    except Exception as exc:  # pdfium raises PdfiumError (and ctypes errors) on broken or encrypted files
        raise ValidationFailed(
            "the PDF cannot be rendered",
            code="pdf_unreadable",
            details={"reason": f"{type(exc).__name__}: {exc}"[:300]},
            fix="export or print the document to PDF again and upload the new file",
        ) from exc

    canvas = _Canvas(rgb, width, height, dpi)
    page_w, page_h = width * 25.4 / dpi, height * 25.4 / dpi
    b = zone.border_mm
    if b > 0:
        for strip in (
            Rect(0, page_w, 0, b),
            Rect(0, page_w, page_h - b, page_h),
            Rect(0, b, b, page_h - b),
            Rect(page_w - b, page_w, b, page_h - b),
        ):
            canvas.blend(strip, CLEAR_RGB, CLEAR_ALPHA)
    for rect in zone.clear.values():
        canvas.blend(rect, CLEAR_RGB, CLEAR_ALPHA)
        canvas.frame(rect, CLEAR_RGB)
    canvas.frame(zone.address, WINDOW_RGB)
    if result is not None:
        _draw_result(canvas, result)
    return png_rgb(width, height, bytes(canvas.rgb))


def _draw_result(canvas: _Canvas, result: CheckResult) -> None:
    """The detected block and every page-1 problem that has a place (fonts, scripts and page sizes have none)."""
    for line in result.address_lines:
        canvas.frame(Rect(line.x0, line.x1, line.y0, line.y1), ADDRESS_RGB, thin=True)
    if result.return_line is not None:
        r = result.return_line
        canvas.frame(Rect(r.x0, r.x1, r.y0, r.y1), RETURN_RGB)
    if result.address_box_mm is not None:
        box = result.address_box_mm
        canvas.frame(Rect(box.x0, box.x1, box.y0, box.y1), ADDRESS_RGB)
    for problem in result.problems:
        where = problem.measured.get("box_mm")
        if where is None or problem.page not in (None, 1):
            continue
        pad = 0.8  # the mark sits just outside the box, so it does not hide what it marks
        canvas.frame(
            Rect(where["x0"] - pad, where["x1"] + pad, where["y0"] - pad, where["y1"] + pad), PROBLEM_RGB, thick=True
        )


def _render_first_page(data: bytes, dpi: int) -> tuple[bytearray, int, int]:
    doc = pdfium.PdfDocument(data)
    try:
        if len(doc) == 0:
            raise ValidationFailed("the PDF has no pages", code="pdf_empty", fix="upload a PDF with at least one page")
        page = doc[0]
        scale = dpi / 72
        w_pt, h_pt = page.get_size()
        if w_pt * h_pt * scale * scale > MAX_PIXELS:
            raise ValidationFailed(
                f"page 1 is too large to preview ({w_pt:.0f} x {h_pt:.0f} pt at {dpi} dpi)",
                code="preview_too_large",
                fix="use A4 or Letter paper, or ask for a lower dpi",
            )
        # BGR is pdfium's native 3-byte format; rev_byteorder gives RGB, which PNG wants.
        bitmap = page.render(scale=scale, rev_byteorder=True)
        width, height, stride = bitmap.width, bitmap.height, bitmap.stride
        raw = memoryview(bitmap.buffer).cast("B")
        row = width * 3
        # Drop pdfium's row padding so the canvas is tightly packed.
        rgb = (
            bytearray(raw)
            if stride == row
            else bytearray(b"".join(raw[y * stride : y * stride + row] for y in range(height)))
        )
        return rgb, width, height
    finally:
        doc.close()


class _Canvas:
    """Minimal drawing on a packed RGB buffer: translucent fills and 2-px frames, in mm."""

    def __init__(self, rgb: bytearray, width: int, height: int, dpi: int):
        self.rgb, self.width, self.height = rgb, width, height
        self.px_per_mm = dpi / 25.4
        self.line = max(1, round(dpi / 36))

    def _px(self, rect: Rect) -> tuple[int, int, int, int]:
        """Pixel bounds (x0, x1, y0, y1), clipped to the bitmap; x1/y1 exclusive."""

        def clip(v: float, hi: int) -> int:
            return min(max(round(v * self.px_per_mm), 0), hi)

        return (
            clip(rect.x0, self.width),
            clip(rect.x1, self.width),
            clip(rect.y0, self.height),
            clip(rect.y1, self.height),
        )

    def blend(self, rect: Rect, colour: tuple[int, int, int], alpha: float) -> None:
        # One translation table per channel turns the per-pixel blend into C-speed slice operations.
        tables = [bytes(round(v * (1 - alpha) + c * alpha) for v in range(256)) for c in colour]
        x0, x1, y0, y1 = self._px(rect)
        if x0 >= x1 or y0 >= y1:
            return
        for y in range(y0, y1):
            start, end = (y * self.width + x0) * 3, (y * self.width + x1) * 3
            for channel, table in enumerate(tables):
                self.rgb[start + channel : end : 3] = self.rgb[start + channel : end : 3].translate(table)

    def fill(self, rect: Rect, colour: tuple[int, int, int]) -> None:
        x0, x1, y0, y1 = self._px(rect)
        if x0 >= x1 or y0 >= y1:
            return
        run = bytes(colour) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.rgb[start : start + len(run)] = run

    def frame(self, rect: Rect, colour: tuple[int, int, int], *, thin: bool = False, thick: bool = False) -> None:
        t = (1 if thin else 2 * self.line if thick else self.line) / self.px_per_mm
        self.fill(Rect(rect.x0, rect.x1, rect.y0, rect.y0 + t), colour)
        self.fill(Rect(rect.x0, rect.x1, rect.y1 - t, rect.y1), colour)
        self.fill(Rect(rect.x0, rect.x0 + t, rect.y0, rect.y1), colour)
        self.fill(Rect(rect.x1 - t, rect.x1, rect.y0, rect.y1), colour)


def png_rgb(width: int, height: int, rgb: bytes) -> bytes:
    """Encode packed 8-bit RGB pixels (row by row, no padding) as a PNG."""
    row = width * 3
    # Filter type 0 (none) on every row: the deflate step does the work on flat page backgrounds.
    raw = b"".join(b"\x00" + rgb[y * row : (y + 1) * row] for y in range(height))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, PNG_COMPRESSION))
        + chunk(b"IEND", b"")
    )

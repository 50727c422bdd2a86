"""Template compatibility check: does a PDF fit a window standard, as the printer sees it (address-geometry.md)?

Positions and ink come from PDFium (pypdfium2), the engine that renders the preview, so the check sees what a
viewer or a printer sees: character codes decoded by the font (CID/Identity-H, Type3), `Tc`/`Tz`, text and page
matrices, `/Rotate` and the CropBox. Two views of each page:

- the text page: character boxes, grouped into lines, give the recipient address block (and a small return-address
  line in the zone its standard reserves for it);
- a low-resolution greyscale raster: the ink in the clear zones and the border, on every page. Clipping,
  white-on-white, invisible OCR text and images all come out as they print; a text line without ink is not read.

pypdf is used only for what it does better: structure (encryption, page count, page boxes, JavaScript,
annotations and AcroForm, embedded fonts) and a cheap count of the operations a page would run, so a PDF that is
too complex is refused in milliseconds. A CPU budget (1 s) bounds the rest: it is checked between pages and inside
PDFium's progressive rendering.

Files that cannot be evaluated raise a `DomainError`; everything else comes back as a `CheckResult` whose
`problems` say what is wrong, where, and how far to move what (to 0.1 mm, and never "0 mm").
"""

from __future__ import annotations

import ctypes
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pydantic import BaseModel
from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

from postal.documents.zones import MM_PER_PT, Rect, Zone
from postal.errors import DomainError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

# Page boxes may differ from the nominal paper by rounding in the generator (A4 is 595.28 x 841.89 pt).
PAGE_TOLERANCE_PT = 1.0
# CPU seconds one check may spend (the budget); a PDF that needs more is `content_too_complex`.
CPU_BUDGET_S = 1.0
# Decoded content of one page (its streams plus each Form XObject once). A letter is well under 1 MB.
MAX_CONTENT_BYTES = 4 * 1024 * 1024
# Operators one page runs, counting a Form XObject once per invocation. A LibreOffice letter page runs a few
# thousand; a page with hundreds of thousands is generated art that no print automation needs in a letter.
MAX_OPERATIONS = 250_000
# Pixels of all images on one page: decoding is not interruptible, so bound it before PDFium starts.
MAX_IMAGE_PIXELS = 60_000_000
# Raster resolution: page 1 (clear zones, whether a text line prints) and every other page (the border only).
FIRST_PAGE_DPI = 72
OTHER_PAGE_DPI = 36
# Pages with more operations than this are rendered progressively, so the CPU budget can interrupt them.
PROGRESSIVE_FROM_OPERATIONS = 20_000
# Page objects looked at to name what sits in a zone (text, path, image...).
MAX_DESCRIBED_OBJECTS = 2_000
# A greyscale pixel darker than this is ink (anti-aliasing makes edge pixels light grey, paper is 255).
INK_BELOW = 240
# How far around the window a text block still counts as "the misplaced address" rather than letter body.
SEARCH_MARGIN_X_MM = 15.0
SEARCH_MARGIN_Y_MM = 25.0
# Lines of one address block are separated by less than this many line heights of white space; the body text
# below an address is a blank line or more away.
MAX_LINE_GAP = 0.9
# Inside one line, a horizontal gap wider than this many ems starts another text run (a date column, a tab).
MAX_WORD_GAP_EM = 2.0
# A gap between two glyph boxes wider than this many ems is a word space.
SPACE_GAP_EM = 0.22
# PDFium's loose character box is the font's ascent-to-descent height: about 1.15 em for common fonts.
LOOSE_HEIGHT_EM = 1.15
# A return-address line is small (DIN 5008: the remark zone takes 5 lines at 8 pt).
RETURN_LINE_MAX_PT = 8.5

_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
# Operator tokens of a content stream: a run of letters not inside a name (`/F1`) or a number. Strings and inline
# image data may add a few; the count is an upper-bound estimate for the complexity gate, not a parse.
_OPERATOR = re.compile(rb"(?<![/\w.#+-])[A-Za-z'\"][A-Za-z0-9*'\"]*")
_DO = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s*Do\b")
_UNPAINTED = frozenset({pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium_c.FPDF_TEXTRENDERMODE_CLIP})
_WHITESPACE = frozenset({0x20, 0x09, 0x0A, 0x0D, 0xA0, 0x00, 0xFFFE, 0xFEFF})


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


class PdfLimits(BaseModel):
    """The provider's limits on the file (Pingen: 8 MB; pages per destination country, providers.md §1.4)."""

    max_pages: int = 120
    max_bytes: int = 8 * 1024 * 1024


class _TooComplex(Exception):
    """The page exceeds a static bound or the CPU budget ran out."""

    def __init__(self, reason: str, **details: Any):
        super().__init__(reason)
        self.reason = reason
        self.details = details


# ------------------------------------------------------------------------------------------------ entry points


def check_pdf(
    data: bytes,
    zone: Zone,
    limits: PdfLimits = PdfLimits(),  # noqa: B008 -- immutable
    cpu_budget_s: float = CPU_BUDGET_S,
) -> CheckResult:
    """Check a PDF against a window standard.

    Raises `UnsupportedMediaType` (`not_a_pdf`), `PayloadTooLarge` (`file_too_large`) or `ValidationFailed`
    (`pdf_unreadable`, `content_too_complex`, `pdf_encrypted`, `pdf_empty`, `too_many_pages`) when the file cannot
    be evaluated; otherwise returns a `CheckResult` listing every problem with a fix.
    """
    return _guarded(data, limits, cpu_budget_s, lambda reader, doc, clock: _check(data, reader, doc, zone, clock))


def read_window_address(
    data: bytes,
    zone: Zone,
    limits: PdfLimits = PdfLimits(),  # noqa: B008 -- immutable
) -> WindowAddress:
    """The recipient address as printed in page 1's window: its lines (text and glyph boxes in mm, top to
    bottom) and the return-address line, read exactly as `check_pdf` reads them.

    For comparing the printed recipient with the chosen one. The lines are those of the block `check_pdf` judges
    (in or near the window); empty when page 1 has no readable address. Raises the same errors as `check_pdf` for
    files that cannot be evaluated.
    """

    def read(reader: PdfReader, doc: pdfium.PdfDocument, clock: _Clock) -> WindowAddress:
        operations = _guard_page(reader.pages[0], clock)
        page = _PdfiumPage(doc, 0, FIRST_PAGE_DPI, clock, operations)
        try:
            found = _find_address(page.lines(_address_band(zone)), page, zone)
        finally:
            page.close()
        return WindowAddress(lines=found.lines, return_line=found.return_line)

    return _guarded(data, limits, CPU_BUDGET_S, read)


def _guarded(data: bytes, limits: PdfLimits, cpu_budget_s: float, run: Any) -> Any:
    """The gates every reading shares (size, header, encryption, page count) and the mapping of failures."""
    clock = _Clock(cpu_budget_s)
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"the PDF is {len(data) / 1048576:.1f} MB, the limit is {limits.max_bytes / 1048576:.1f} MB",
            code="file_too_large",
            details={"size": len(data), "max_bytes": limits.max_bytes},
            fix="reduce the file size: downsample images to 300 dpi and subset the fonts",
        )
    # The spec lets readers accept junk before the header within the first 1024 bytes.
    if b"%PDF-" not in data[:1024]:
        raise UnsupportedMediaType(
            "the file is not a PDF (no %PDF header)",
            code="not_a_pdf",
            fix="upload the letter template as a PDF file",
        )
    try:
        # Bound every decompression; pypdf's defaults (75 MB per stream) are far above what a letter needs.
        with apply_configuration(
            zlib_maximum_output_length=2 * MAX_CONTENT_BYTES,
            lzw_maximum_output_length=2 * MAX_CONTENT_BYTES,
            run_length_maximum_output_length=2 * MAX_CONTENT_BYTES,
            array_based_stream_maximum_output_length=2 * MAX_CONTENT_BYTES,
        ):
            reader = _open_reader(data, limits)
            doc = pdfium.PdfDocument(data)
            try:
                return run(reader, doc, clock)
            finally:
                doc.close()
    except DomainError:
        raise
    except _TooComplex as exc:
        raise _too_complex(exc.reason, exc.details) from exc
    except LimitReachedError as exc:
        raise _too_complex("a stream inflates beyond the limit", {"max_content_bytes": MAX_CONTENT_BYTES}) from exc
    except Exception as exc:  # pypdf and PDFium raise many types on broken files; the boundary makes them one 422
        raise ValidationFailed(
            "the PDF is damaged and cannot be read",
            code="pdf_unreadable",
            details={"reason": f"{type(exc).__name__}: {exc}"[:300]},
            fix="export or print the document to PDF again and upload the new file",
        ) from exc


def _too_complex(reason: str, details: dict[str, Any]) -> ValidationFailed:
    return ValidationFailed(
        f"the PDF is too complex to check: {reason}",
        code="content_too_complex",
        details={
            **details,
            "cpu_budget_s": CPU_BUDGET_S,
            "max_operations": MAX_OPERATIONS,
            "max_content_bytes": MAX_CONTENT_BYTES,
        },
        fix="flatten or simplify the pages: export vector artwork as an image, or print to PDF again",
    )


def _open_reader(data: bytes, limits: PdfLimits) -> PdfReader:
    reader = PdfReader(BytesIO(data), strict=False)
    if reader.is_encrypted:
        raise ValidationFailed(
            "the PDF is encrypted or password-protected",
            code="pdf_encrypted",
            fix="save the PDF without a password or security restrictions and upload it again",
        )
    page_count = len(reader.pages)
    if page_count == 0:
        raise ValidationFailed("the PDF has no pages", code="pdf_empty", fix="upload a PDF with at least one page")
    if page_count > limits.max_pages:
        raise ValidationFailed(
            f"the PDF has {page_count} pages, the limit is {limits.max_pages}",
            code="too_many_pages",
            details={"page_count": page_count, "max_pages": limits.max_pages},
            fix=f"split the letter: at most {limits.max_pages} pages per letter",
        )
    return reader


# ------------------------------------------------------------------------------------------------ the check


def _check(data: bytes, reader: PdfReader, doc: pdfium.PdfDocument, zone: Zone, clock: _Clock) -> CheckResult:
    page_count = len(reader.pages)
    if len(doc) != page_count:
        # The two parsers disagree about the file: it is damaged (a repaired xref found other pages).
        raise ValueError(f"pypdf reads {page_count} pages, PDFium {len(doc)}")
    grouped: dict[tuple[str, str], CheckProblem] = {}
    fonts: dict[str, bool] = {}
    seen: set[int] = set()
    annot_boxes: dict[int, list[tuple[str, Rect]]] = {}
    operations: list[int] = []
    for number, structure in enumerate(reader.pages, start=1):
        operations.append(_guard_page(structure, clock))
        for problem in _cropbox_problems(structure):
            _group(grouped, problem, number)
        _collect_fonts(_resolve(structure.get_inherited("/Resources", None)), fonts, seen, depth=0)
        for finding, item in _annotation_findings(structure):
            if finding is not None:
                _group(grouped, finding, number)
            if item is not None:
                annot_boxes.setdefault(number, []).append(item)

    problems: list[CheckProblem] = []
    borders: list[CheckProblem] = []
    found = _Found([], None, None, [])
    first_size = (0.0, 0.0)
    for index in range(page_count):
        clock.check(f"page {index + 1}")
        page = _PdfiumPage(doc, index, FIRST_PAGE_DPI if index == 0 else OTHER_PAGE_DPI, clock, operations[index])
        try:
            number = index + 1
            size_problem = _page_size_problem(page, zone)
            if size_problem is not None:
                _group(grouped, size_problem, number)
            if index == 0:
                first_size = (round(page.width_mm, 1), round(page.height_mm, 1))
            if index == 0 and not (size_problem and page.width_mm > page.height_mm):
                # On a landscape page 1 the window geometry means nothing: the page size is the one problem.
                found = _find_address(page.lines(_address_band(zone)), page, zone)
                problems.extend(found.problems)
                problems.extend(_clear_zone_problems(page, zone, annot_boxes.get(number, [])))
            borders.extend(_border_problems(page, zone, number, annot_boxes.get(number, [])))
        finally:
            page.close()

    if borders:
        # One problem for the border, however many pages touch it: the first page's measurement, every page listed.
        first = borders[0]
        first.measured["pages"] = [p.page for p in borders]
        if len(borders) > 1:
            first.message += f" (and on {len(borders) - 1} more page{'s' if len(borders) > 2 else ''})"
        problems.append(first)
    problems = [*grouped.values(), *_document_problems(reader), *_font_problems(fonts), *problems]
    box = found.box
    return CheckResult(
        ok=not problems,
        zone_id=zone.id,
        problems=problems,
        address_box_mm=AddressBox(**_rect_dict(box)) if box else None,
        address_lines=found.lines,
        return_line=found.return_line,
        page_count=page_count,
        page_size_mm=first_size,
        file_size=len(data),
        fonts=sorted(fonts),
    )


def _group(grouped: dict[tuple[str, str], CheckProblem], problem: CheckProblem, page: int) -> None:
    """One problem per code and measurement, listing every page it occurs on (120 landscape pages = 1 problem)."""
    key = (problem.code, repr(sorted(problem.measured.items())))
    if key in grouped:
        grouped[key].measured["pages"].append(page)
        return
    problem.page = page
    problem.measured["pages"] = [page]
    grouped[key] = problem


# ------------------------------------------------------------------------------------------------ the budget


class _Clock:
    """CPU time spent by this check (process time: what Lambda bills and what a busy neighbour cannot inflate)."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.deadline = time.process_time() + budget_s

    def over(self) -> bool:
        return time.process_time() > self.deadline

    def check(self, where: str) -> None:
        if self.over():
            raise _TooComplex(f"checking it needs more than {self.budget_s:g} s of CPU (at {where})")


def _guard_page(page: Any, clock: _Clock) -> int:
    """Refuse a page whose content is too large or runs too many operations, before PDFium parses it; return
    the estimated number of operations."""
    counter = _OperationCounter(clock)
    counter.add(_resolve(page.get("/Contents")), _resolve(page.get_inherited("/Resources", None)), depth=0)
    if counter.image_pixels > MAX_IMAGE_PIXELS:
        raise _TooComplex(
            f"its images have {counter.image_pixels:,} pixels (at most {MAX_IMAGE_PIXELS:,})",
            image_pixels=counter.image_pixels,
        )
    return counter.operations


@dataclass
class _OperationCounter:
    clock: _Clock
    operations: int = 0
    content_bytes: int = 0
    image_pixels: int = 0

    def add(self, contents: Any, resources: Any, depth: int, times: int = 1) -> None:
        if depth > 12:
            raise _TooComplex("Form XObjects nest more than 12 deep")
        streams = [_resolve(s) for s in contents] if isinstance(contents, ArrayObject) else [contents]
        data = b"".join(s.get_data() for s in streams if isinstance(s, StreamObject))
        self.content_bytes += len(data)
        if self.content_bytes > MAX_CONTENT_BYTES:
            raise _TooComplex(
                f"its content streams hold more than {MAX_CONTENT_BYTES // 1048576} MB",
                content_bytes=self.content_bytes,
            )
        self._count(len(_OPERATOR.findall(data)) * times)
        self.clock.check("reading the content")
        xobjects = _resolve(_resolve(resources).get("/XObject")) if isinstance(resources, DictionaryObject) else None
        if not isinstance(xobjects, DictionaryObject):
            return
        invocations: dict[str, int] = {}
        for match in _DO.finditer(data):
            name = "/" + match.group(1).decode("latin-1")
            invocations[name] = invocations.get(name, 0) + 1
        for name, count in invocations.items():
            xobject = _resolve(xobjects.get(name))
            if not isinstance(xobject, StreamObject):
                continue
            if xobject.get("/Subtype") == "/Image":
                self.image_pixels += int(xobject.get("/Width", 0)) * int(xobject.get("/Height", 0))
            elif xobject.get("/Subtype") == "/Form":
                inner = _resolve(xobject.get("/Resources")) or resources
                self.add(xobject, inner, depth + 1, times * count)

    def _count(self, n: int) -> None:
        self.operations += n
        if self.operations > MAX_OPERATIONS:
            raise _TooComplex(
                f"a page runs more than {MAX_OPERATIONS:,} operations (Form XObjects counted per use)",
                operations=self.operations,
            )


# ------------------------------------------------------------------------------------------------ PDFium pages


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


def _line_rect(line: AddressLine) -> Rect:
    return Rect(line.x0, line.x1, line.y0, line.y1)


# ------------------------------------------------------------------------------------------------ page rules


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


# ------------------------------------------------------------------------------------------------ the address


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


def _moves(box: Rect, target: Rect, what: str, where: str) -> list[tuple[str, tuple[str, float]]]:
    """The moves that put `box` inside `target`: (fix text, (measured key, mm)), each at least 0.1 mm."""
    moves: list[tuple[str, tuple[str, float]]] = []
    if box.y1 - box.y0 > target.y1 - target.y0:
        excess = _up(box.y1 - box.y0 - (target.y1 - target.y0))
        moves.append(
            (
                f"make the {what} {_fmt(excess)} mm shorter: it is {_fmt(box.y1 - box.y0)} mm tall, the {where} "
                f"{_fmt(target.y1 - target.y0)} mm (fewer lines or a smaller font), with its top edge at "
                f"{_edge(target.y0)} mm",
                ("shorten_mm", excess),
            )
        )
    elif box.y0 < target.y0:
        d = _up(target.y0 - box.y0)
        moves.append(
            (
                f"move the {what} down {_fmt(d)} mm: its top edge is at {_edge(box.y0)} mm, the {where}'s top "
                f"edge at {_edge(target.y0)} mm",
                ("move_down_mm", d),
            )
        )
    elif box.y1 > target.y1:
        d = _up(box.y1 - target.y1)
        moves.append(
            (
                f"move the {what} up {_fmt(d)} mm: its bottom edge is at {_edge(box.y1)} mm, the {where}'s bottom "
                f"edge at {_edge(target.y1)} mm",
                ("move_up_mm", d),
            )
        )
    if box.x1 - box.x0 > target.x1 - target.x0:
        excess = _up(box.x1 - box.x0 - (target.x1 - target.x0))
        moves.append(
            (
                f"make the {what}'s lines {_fmt(excess)} mm shorter: they are {_fmt(box.x1 - box.x0)} mm wide, "
                f"the {where} {_fmt(target.x1 - target.x0)} mm",
                ("narrow_mm", excess),
            )
        )
    elif box.x0 < target.x0:
        d = _up(target.x0 - box.x0)
        moves.append(
            (
                f"move the {what} right {_fmt(d)} mm: its left edge is at x {_edge(box.x0)} mm, the {where}'s "
                f"left edge at x {_edge(target.x0)} mm",
                ("move_right_mm", d),
            )
        )
    elif box.x1 > target.x1:
        d = _up(box.x1 - target.x1)
        moves.append(
            (
                f"move the {what} left {_fmt(d)} mm: its right edge is at x {_edge(box.x1)} mm, the {where}'s "
                f"right edge at x {_edge(target.x1)} mm",
                ("move_left_mm", d),
            )
        )
    return moves


def _up(mm: float) -> float:
    """A distance to move, rounded up to 0.1 mm so that the move is enough, and never 0."""
    # Rounded to 0.01 mm first: glyph boxes are exact to about 1/1000 em, which must not turn 7.7 into 7.8.
    return max(0.1, math.ceil(round(mm * 10, 1)) / 10)


# ------------------------------------------------------------------------------------------------ structure (pypdf)


def _resolve(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _collect_fonts(resources: Any, fonts: dict[str, bool], seen: set[int], depth: int) -> None:
    """Record every font in /Resources/Font, recursing into Form XObjects (each resource dict visited once)."""
    if not isinstance(resources, DictionaryObject) or id(resources) in seen or depth > 20:
        return
    seen.add(id(resources))
    for ref in _resolve(resources.get("/Font", DictionaryObject())).values():
        font = _resolve(ref)
        if not isinstance(font, DictionaryObject) or id(font) in seen:
            continue
        seen.add(id(font))
        name = str(font.get("/BaseFont", font.get("/Name", "unnamed")))[1:] or "unnamed"
        fonts[name] = fonts.get(name, True) and _is_embedded(font)
    for ref in _resolve(resources.get("/XObject", DictionaryObject())).values():
        xobject = _resolve(ref)
        if isinstance(xobject, StreamObject) and xobject.get("/Subtype") == "/Form":
            _collect_fonts(_resolve(xobject.get("/Resources")), fonts, seen, depth + 1)


def _is_embedded(font: DictionaryObject) -> bool:
    if font.get("/Subtype") == "/Type3":
        return True  # glyphs are content streams inside the PDF
    if font.get("/Subtype") == "/Type0":
        descendants = _resolve(font.get("/DescendantFonts"))
        if not isinstance(descendants, ArrayObject) or not descendants:
            return False
        font = _resolve(descendants[0])
    descriptor = _resolve(font.get("/FontDescriptor"))
    return isinstance(descriptor, DictionaryObject) and any(key in descriptor for key in _FONT_FILES)


def _font_problems(fonts: dict[str, bool]) -> list[CheckProblem]:
    return [
        CheckProblem(
            code="font_not_embedded",
            message=f"the font '{name}' is not embedded",
            fix=f"embed the font '{name}' (e.g. 'embed all fonts' / PDF/A export), or use an embedded font",
            measured={"font": name},
        )
        for name in sorted(n for n, embedded in fonts.items() if not embedded)
    ]


def _annotation_findings(page: Any) -> Iterator[tuple[CheckProblem | None, tuple[str, Rect] | None]]:
    """Widgets and scripts are problems; every annotation's /Rect counts for the clear zones and the border
    (a link prints nothing, but Pingen refuses interactive elements where the automation looks)."""
    annots = _resolve(page.get("/Annots"))
    if not isinstance(annots, ArrayObject):
        return
    crop = page.cropbox
    rotated = page.rotation % 360 != 0
    for ref in annots:
        annot = _resolve(ref)
        if not isinstance(annot, DictionaryObject) or annot.get("/Subtype") == "/Popup":
            continue
        subtype = str(annot.get("/Subtype", "/Unknown"))[1:]
        if subtype == "Widget":
            yield _interactive_problem("a form field (widget annotation)"), None
        if _is_javascript(annot.get("/A")) or "/AA" in annot:
            yield _javascript_problem(f"a {subtype} annotation runs JavaScript"), None
        rect = _resolve(annot.get("/Rect"))
        if not rotated and isinstance(rect, ArrayObject) and len(rect) == 4:
            x0, y0, x1, y1 = (float(v) for v in rect)
            box = Rect(
                (min(x0, x1) - float(crop.left)) * MM_PER_PT,
                (max(x0, x1) - float(crop.left)) * MM_PER_PT,
                (float(crop.top) - max(y0, y1)) * MM_PER_PT,
                (float(crop.top) - min(y0, y1)) * MM_PER_PT,
            )
            yield None, (f"{subtype} annotation", box)


def _is_javascript(action: Any) -> bool:
    action = _resolve(action)
    return isinstance(action, DictionaryObject) and action.get("/S") == "/JavaScript"


def _javascript_problem(what: str) -> CheckProblem:
    return CheckProblem(
        code="javascript_present",
        message=f"the PDF contains JavaScript: {what}",
        fix="export the PDF again without scripts or actions (e.g. 'print to PDF')",
        measured={"where": what},
    )


def _interactive_problem(what: str) -> CheckProblem:
    return CheckProblem(
        code="interactive_form",
        message=f"the PDF has interactive elements: {what}",
        fix="flatten the form (print to PDF) so that fields become plain text",
        measured={"where": what},
    )


def _document_problems(reader: PdfReader) -> list[CheckProblem]:
    root = _resolve(reader.trailer.get("/Root"))
    if not isinstance(root, DictionaryObject):
        return []
    problems = []
    open_action = _resolve(root.get("/OpenAction"))
    if _is_javascript(open_action):
        problems.append(_javascript_problem("/OpenAction"))
    if "/AA" in root:
        problems.append(_javascript_problem("document actions (/AA)"))
    names = _resolve(root.get("/Names"))
    if isinstance(names, DictionaryObject) and "/JavaScript" in names:
        problems.append(_javascript_problem("document scripts (/Names/JavaScript)"))
    if "/AcroForm" in root:
        problems.append(_interactive_problem("a form (/AcroForm)"))
    return problems


# ------------------------------------------------------------------------------------------------ formatting


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

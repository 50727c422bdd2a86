"""The entry points: the gates every reading shares (size, header, encryption, pages), then the check itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pypdfium2 as pdfium
from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError

from postal.documents.check.address import _address_band, _find_address, _Found
from postal.documents.check.limits import (
    CPU_BUDGET_S,
    FIRST_PAGE_DPI,
    MAX_CONTENT_BYTES,
    MAX_OPERATIONS,
    OTHER_PAGE_DPI,
    PdfLimits,
    _Clock,
    _guard_page,
    _resolve,
    _TooComplex,
)
from postal.documents.check.page_rules import (
    _border_problems,
    _clear_zone_problems,
    _cropbox_problems,
    _page_size_problem,
)
from postal.documents.check.pages import _PdfiumPage
from postal.documents.check.results import AddressBox, CheckProblem, CheckResult, WindowAddress, _rect_dict
from postal.documents.check.structure import _annotation_findings, _collect_fonts, _document_problems, _font_problems
from postal.documents.zones import Rect, Zone
from postal.errors import DomainError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed


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


@dataclass
class _Structure:
    """What the pypdf pass over every page found: grouped problems, fonts, annotation boxes, operation counts."""

    grouped: dict[tuple[str, str], CheckProblem] = field(default_factory=dict)
    fonts: dict[str, bool] = field(default_factory=dict)
    annot_boxes: dict[int, list[tuple[str, Rect]]] = field(default_factory=dict)
    operations: list[int] = field(default_factory=list)


def _read_structure(reader: PdfReader, clock: _Clock) -> _Structure:
    """The structure pass (pypdf): operation counts (the complexity gate), CropBoxes, fonts, annotations."""
    found = _Structure()
    seen: set[int] = set()
    for number, structure in enumerate(reader.pages, start=1):
        found.operations.append(_guard_page(structure, clock))
        for problem in _cropbox_problems(structure):
            _group(found.grouped, problem, number)
        _collect_fonts(_resolve(structure.get_inherited("/Resources", None)), found.fonts, seen, depth=0)
        for finding, item in _annotation_findings(structure):
            if finding is not None:
                _group(found.grouped, finding, number)
            if item is not None:
                found.annot_boxes.setdefault(number, []).append(item)
    return found


def _check(data: bytes, reader: PdfReader, doc: pdfium.PdfDocument, zone: Zone, clock: _Clock) -> CheckResult:
    page_count = len(reader.pages)
    if len(doc) != page_count:
        # The two parsers disagree about the file: it is damaged (a repaired xref found other pages).
        raise ValueError(f"pypdf reads {page_count} pages, PDFium {len(doc)}")
    structure = _read_structure(reader, clock)
    grouped = structure.grouped
    problems: list[CheckProblem] = []
    borders: list[CheckProblem] = []
    found = _Found([], None, None, [])
    first_size = (0.0, 0.0)
    for index in range(page_count):
        clock.check(f"page {index + 1}")
        dpi = FIRST_PAGE_DPI if index == 0 else OTHER_PAGE_DPI
        page = _PdfiumPage(doc, index, dpi, clock, structure.operations[index])
        try:
            number = index + 1
            annots = structure.annot_boxes.get(number, [])
            size_problem = _page_size_problem(page, zone)
            if size_problem is not None:
                _group(grouped, size_problem, number)
            if index == 0:
                first_size = (round(page.width_mm, 1), round(page.height_mm, 1))
            if index == 0 and not (size_problem and page.width_mm > page.height_mm):
                # On a landscape page 1 the window geometry means nothing: the page size is the one problem.
                found = _find_address(page.lines(_address_band(zone)), page, zone)
                problems.extend([*found.problems, *_clear_zone_problems(page, zone, annots)])
            borders.extend(_border_problems(page, zone, number, annots))
        finally:
            page.close()
    fonts = structure.fonts
    problems = [*grouped.values(), *_document_problems(reader), *_font_problems(fonts), *problems, *_merged(borders)]
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


def _merged(borders: list[CheckProblem]) -> list[CheckProblem]:
    """One problem for the border, however many pages touch it: the first page's measurement, every page listed."""
    if not borders:
        return []
    first = borders[0]
    first.measured["pages"] = [p.page for p in borders]
    if len(borders) > 1:
        first.message += f" (and on {len(borders) - 1} more page{'s' if len(borders) > 2 else ''})"
    return [first]


def _group(grouped: dict[tuple[str, str], CheckProblem], problem: CheckProblem, page: int) -> None:
    """One problem per code and measurement, listing every page it occurs on (120 landscape pages = 1 problem)."""
    key = (problem.code, repr(sorted(problem.measured.items())))
    if key in grouped:
        grouped[key].measured["pages"].append(page)
        return
    problem.page = page
    problem.measured["pages"] = [page]
    grouped[key] = problem

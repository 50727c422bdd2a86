"""Template compatibility check: does a PDF fit a window standard (address-geometry.md §3)?

A fast pypdf gate that runs on every letter. Page 1 gets a full geometry walk (text positions, paths, images,
annotations); the other pages only get the cheap dictionary checks (page boxes, rotation, fonts, annotations), so
pages that are never needed are never parsed.

Files that cannot be evaluated at all raise a `DomainError`; everything else comes back as a `CheckResult` whose
`problems` say what is wrong, where, and how many mm to move what.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from pydantic import BaseModel
from pypdf import PdfReader, apply_configuration, mult
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, StreamObject
from pypdf.generic._font import Font  # pypdf's width tables; not re-exported by pypdf.generic

from postal.documents.zones import MM_PER_PT, Rect, Zone
from postal.errors import DomainError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

# Page boxes may differ from the nominal paper by rounding in the generator (A4 is 595.28 x 841.89 pt).
PAGE_TOLERANCE_PT = 1.0
# Stroke width is not part of a path's bbox, so every empty zone is widened by this much (spec §3).
ZONE_PAD_MM = 0.5
# Decoded page-1 content (page streams plus every Form XObject invocation). A letter is well under 1 MB; pypdf's
# pure-Python parser needs seconds and hundreds of MB for tens of MB, so refuse early instead.
MAX_CONTENT_BYTES = 4 * 1024 * 1024
# Content-stream operators on page 1, counting Form XObjects once per invocation.
MAX_OPERATIONS = 300_000
# How far around the window a text block still counts as "the misplaced address" rather than letter body.
SEARCH_MARGIN_X_MM = 15.0
SEARCH_MARGIN_Y_MM = 25.0
# Consecutive address lines are at most this many font sizes apart (baseline to baseline); the body text below
# an address is separated by a blank line or more.
MAX_LINE_PITCH = 1.8
# A glyph's descent below the baseline, as a fraction of the font size (pypdf gives no glyph box).
DESCENT = 0.25

_IDENTITY = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
_PAINT_OPS = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_FILL_OPS = _PAINT_OPS - {b"S", b"s"}
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


class CheckProblem(BaseModel):
    """One reason the PDF does not fit: a stable `code`, a message for people, and a concrete fix."""

    code: str
    message: str
    fix: str
    page: int | None = None
    zone: str | None = None
    measured: dict[str, Any] = {}


class AddressBox(BaseModel):
    """The detected recipient address block, mm from the top-left of page 1."""

    x0: float
    x1: float
    y0: float
    y1: float


class CheckResult(BaseModel):
    """Outcome of `check_pdf`: `ok` is True exactly when `problems` is empty."""

    ok: bool
    zone_id: str
    problems: list[CheckProblem]
    address_box_mm: AddressBox | None
    page_count: int
    page_size_mm: tuple[float, float]
    file_size: int
    fonts: list[str]


class PdfLimits(BaseModel):
    """The provider's limits on the file (Pingen: 8 MB; pages per destination country, providers.md §1.4)."""

    max_pages: int = 120
    max_bytes: int = 8 * 1024 * 1024


class _TooComplex(Exception):
    """Raised from inside the pypdf visitors to abort a page that exceeds our budgets."""


@dataclass
class _Item:
    """Something painted on page 1: its kind (text, path, image, annotation) and its box in mm."""

    kind: str
    box: Rect
    filled: bool = False
    text: str = ""
    size_mm: float = 0.0


@dataclass
class _Frame:
    """Graphics state saved by `q`, or the context of one Form XObject invocation."""

    ctm: list[float]
    resources: Any


@dataclass
class _PageWalker:
    """pypdf visitors that collect page-1 content in mm (top-left origin) against the CropBox.

    We follow `q`/`Q`/`cm` ourselves rather than trusting pypdf's matrices, because pypdf restarts from the
    identity inside a Form XObject and ignores its `/Matrix`. `form_base` maps a form's space to the page.
    """

    crop_left: float
    crop_top: float
    resources: Any
    items: list[_Item] = field(default_factory=list)
    ctm: list[float] = field(default_factory=lambda: list(_IDENTITY))
    stack: list[_Frame] = field(default_factory=list)
    forms: list[tuple[list[float], list[float], Any, list[_Frame]]] = field(default_factory=list)
    form_base: list[float] = field(default_factory=lambda: list(_IDENTITY))
    do_is_form: list[bool] = field(default_factory=list)
    path: list[tuple[float, float]] = field(default_factory=list)
    render_mode: int = 0
    operations: int = 0
    content_bytes: int = 0
    aborted: bool = False
    font_cache: dict[int, Any] = field(default_factory=dict)

    def _to_mm(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.crop_left) * MM_PER_PT, (self.crop_top - y) * MM_PER_PT

    def _box(self, points: list[tuple[float, float]], matrix: list[float]) -> Rect:
        xs, ys = [], []
        for px, py in points:
            mx, my = self._to_mm(
                matrix[0] * px + matrix[2] * py + matrix[4], matrix[1] * px + matrix[3] * py + matrix[5]
            )
            xs.append(mx)
            ys.append(my)
        return Rect(min(xs), max(xs), min(ys), max(ys))

    def add_stream_bytes(self, n: int) -> None:
        self.content_bytes += n
        if self.content_bytes > MAX_CONTENT_BYTES:
            self.aborted = True
            raise _TooComplex

    def before(self, op: bytes, args: list[Any], _cm: Any = None, _tm: Any = None) -> None:
        # pypdf swallows exceptions raised inside a Form XObject; keep raising until we are back at page level.
        if self.aborted:
            raise _TooComplex
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            self.aborted = True
            raise _TooComplex
        if op == b"q":
            self.stack.append(_Frame(list(self.ctm), None))
        elif op == b"Q":
            if self.stack:
                self.ctm = self.stack.pop().ctm
        elif op == b"cm" and len(args) >= 6:
            self.ctm = mult([float(a) for a in args[:6]], self.ctm)
        elif op in (b"m", b"l") and len(args) >= 2:
            self.path.append((float(args[0]), float(args[1])))
        elif op in (b"c", b"v", b"y") and len(args) >= 4:
            nums = [float(a) for a in args]
            self.path.extend(zip(nums[0::2], nums[1::2], strict=False))
        elif op == b"re" and len(args) >= 4:
            x, y, w, h = (float(a) for a in args[:4])
            self.path.extend([(x, y), (x + w, y + h)])
        elif op in _PAINT_OPS or op == b"n":
            if op != b"n" and self.path:
                self.items.append(_Item("path", self._box(self.path, self._page_ctm()), filled=op in _FILL_OPS))
            self.path = []
        elif op == b"Tr" and args:
            self.render_mode = int(args[0])
        elif op == b"INLINE IMAGE":
            self.items.append(_Item("image", self._unit_square(), filled=True))
        elif op == b"Do":
            self._do(args)

    def _page_ctm(self) -> list[float]:
        return mult(self.ctm, self.form_base)

    def _unit_square(self) -> Rect:
        return self._box([(0, 0), (1, 0), (0, 1), (1, 1)], self._page_ctm())

    def _do(self, args: list[Any]) -> None:
        xobject = _resolve(_resolve(self.resources or {}).get("/XObject", {})).get(args[0]) if args else None
        xobject = _resolve(xobject)
        is_form = isinstance(xobject, StreamObject) and xobject.get("/Subtype") == "/Form"
        self.do_is_form.append(is_form)
        if isinstance(xobject, StreamObject) and xobject.get("/Subtype") == "/Image":
            self.items.append(_Item("image", self._unit_square(), filled=True))
        if not is_form:
            return
        assert isinstance(xobject, StreamObject)
        self.add_stream_bytes(len(xobject.get_data()))
        matrix = [float(v) for v in _resolve(xobject.get("/Matrix", _IDENTITY))][:6]
        self.forms.append((self.ctm, self.form_base, self.resources, self.stack))
        self.form_base = mult(matrix, self._page_ctm())
        self.ctm, self.stack = list(_IDENTITY), []
        form_resources = _resources(xobject)
        self.resources = form_resources or self.resources
        if not form_resources:
            # pypdf does not descend into a form without /Resources (no text possible), but it can still paint.
            for operands, operator in _operations(xobject, None):
                self.before(operator, operands)
                self.after(operator, operands)

    def after(self, op: bytes, _args: list[Any], _cm: Any = None, _tm: Any = None) -> None:
        if op == b"Do" and self.do_is_form and self.do_is_form.pop() and self.forms:
            self.ctm, self.form_base, self.resources, self.stack = self.forms.pop()

    def text(self, text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        # Render mode 3 is invisible (an OCR layer over a scan): it prints nothing and is not a readable address.
        if not text.strip() or self.render_mode == 3:
            return
        m = mult(mult(tm, cm), self.form_base)
        scale = math.hypot(m[2], m[3]) or 1.0
        size_pt = font_size * scale
        width_pt = self._width(text.strip(), font) / 1000 * font_size * math.hypot(m[0], m[1])
        x, y = self._to_mm(m[4], m[5])
        size_mm = size_pt * MM_PER_PT
        box = Rect(x, x + width_pt * MM_PER_PT, y - size_mm, y + DESCENT * size_mm)
        self.items.append(_Item("text", box, filled=True, text=text.strip(), size_mm=size_mm))

    def _width(self, text: str, font: Any) -> float:
        """Glyph widths from the font's /Widths (1/1000 em); half an em per character when unknown."""
        if not isinstance(font, DictionaryObject):
            return 500.0 * len(text)
        key = id(font)
        if key not in self.font_cache:
            try:
                self.font_cache[key] = Font.from_font_resource(font)
            except Exception:  # a broken /Widths array should not make the file unreadable
                self.font_cache[key] = None
        parsed = self.font_cache[key]
        return parsed.get_text_width(text) if parsed is not None else 500.0 * len(text)


def _resolve(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _resources(obj: Any) -> DictionaryObject | None:
    """The /Resources pypdf's text extraction would use (inherited for pages), or None when it would skip."""
    raw = obj.get_inherited("/Resources", None) if isinstance(obj, DictionaryObject) else None
    raw = _resolve(raw)
    return raw if isinstance(raw, DictionaryObject) and len(raw) else None


def _operations(obj: Any, reader: PdfReader | None) -> Iterator[tuple[list[Any], bytes]]:
    yield from ContentStream(obj, reader, "bytes").operations


def _fmt(v: float) -> str:
    """mm for messages: one decimal, no trailing zero."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _rect_dict(r: Rect) -> dict[str, float]:
    return {"x0": round(r.x0, 1), "x1": round(r.x1, 1), "y0": round(r.y0, 1), "y1": round(r.y1, 1)}


def _describe(r: Rect) -> str:
    return f"x {_fmt(r.x0)}-{_fmt(r.x1)} mm, y {_fmt(r.y0)}-{_fmt(r.y1)} mm"


def _union(boxes: list[Rect]) -> Rect:
    return Rect(min(b.x0 for b in boxes), max(b.x1 for b in boxes), min(b.y0 for b in boxes), max(b.y1 for b in boxes))


def _pad(r: Rect, pad: float) -> Rect:
    return Rect(r.x0 - pad, r.x1 + pad, r.y0 - pad, r.y1 + pad)


def check_pdf(data: bytes, zone: Zone, limits: PdfLimits = PdfLimits()) -> CheckResult:  # noqa: B008 -- immutable
    """Check a PDF against a window standard.

    Raises `UnsupportedMediaType` (`not_a_pdf`), `PayloadTooLarge` (`file_too_large`) or `ValidationFailed`
    (`pdf_unreadable`, `content_too_complex`, `pdf_encrypted`, `pdf_empty`, `too_many_pages`) when the file cannot
    be evaluated; otherwise returns a `CheckResult` listing every problem with a fix.
    """
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
            return _check(data, zone, limits)
    except DomainError:
        raise
    except (_TooComplex, LimitReachedError) as exc:
        raise ValidationFailed(
            "page 1 is too complex to check (content streams too large)",
            code="content_too_complex",
            details={"max_content_bytes": MAX_CONTENT_BYTES, "max_operations": MAX_OPERATIONS},
            fix="flatten or simplify page 1: export vector artwork as an image, or print to PDF again",
        ) from exc
    except Exception as exc:  # pypdf raises many types on broken files; the boundary turns all into one 422
        raise ValidationFailed(
            "the PDF is damaged and cannot be read",
            code="pdf_unreadable",
            details={"reason": f"{type(exc).__name__}: {exc}"[:300]},
            fix="export or print the document to PDF again and upload the new file",
        ) from exc


def _check(data: bytes, zone: Zone, limits: PdfLimits) -> CheckResult:
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

    problems: list[CheckProblem] = []
    grouped: dict[tuple[str, str], CheckProblem] = {}
    fonts: dict[str, bool] = {}
    seen: set[int] = set()
    annot_items: list[tuple[int, _Item]] = []
    for number, page in enumerate(reader.pages, start=1):
        for problem in _page_box_problems(page, zone):
            _group(grouped, problem, number)
        _collect_fonts(_resolve(page.get_inherited("/Resources", None)), fonts, seen, depth=0)
        for finding, item in _annotation_findings(page):
            if finding is not None:
                _group(grouped, finding, number)
            if item is not None:
                annot_items.append((number, item))
    problems.extend(grouped.values())
    problems.extend(_document_problems(reader))
    for name in sorted(n for n, embedded in fonts.items() if not embedded):
        problems.append(
            CheckProblem(
                code="font_not_embedded",
                message=f"the font '{name}' is not embedded",
                fix=f"embed the font '{name}' (e.g. 'embed all fonts' / PDF/A export), or use an embedded font",
                measured={"font": name},
            )
        )

    first = reader.pages[0]
    crop = first.cropbox
    walker = _PageWalker(crop_left=float(crop.left), crop_top=float(crop.top), resources=_resources(first))
    _walk_first_page(first, reader, walker)
    page_w_mm = float(crop.width) * MM_PER_PT
    page_h_mm = float(crop.height) * MM_PER_PT
    items = walker.items + [item for number, item in annot_items if number == 1]
    problems.extend(_clear_zone_problems(items, zone, page_w_mm, page_h_mm))
    problems.extend(_border_problems([(n, i) for n, i in annot_items if n != 1], zone, reader))
    address, address_problems = _find_address(walker.items, zone)
    problems.extend(address_problems)
    return CheckResult(
        ok=not problems,
        zone_id=zone.id,
        problems=problems,
        address_box_mm=AddressBox(**_rect_dict(address)) if address else None,
        page_count=page_count,
        page_size_mm=(
            round(float(first.mediabox.width) * MM_PER_PT, 1),
            round(float(first.mediabox.height) * MM_PER_PT, 1),
        ),
        file_size=len(data),
        fonts=sorted(fonts),
    )


def _group(grouped: dict[tuple[str, str], CheckProblem], problem: CheckProblem, page: int) -> None:
    """One problem per code and measurement, listing every page it occurs on (120 rotated pages = 1 problem)."""
    key = (problem.code, repr(sorted(problem.measured.items())))
    if key in grouped:
        grouped[key].measured["pages"].append(page)
        return
    problem.page = page
    problem.measured["pages"] = [page]
    grouped[key] = problem


def _walk_first_page(page: Any, reader: PdfReader, walker: _PageWalker) -> None:
    contents = _resolve(page.get("/Contents"))
    streams = [_resolve(s) for s in contents] if isinstance(contents, ArrayObject) else [contents]
    # Bound the decoded size before pypdf parses anything (decoding itself is capped by apply_configuration).
    for stream in streams:
        if isinstance(stream, StreamObject):
            walker.add_stream_bytes(len(stream.get_data()))
    if walker.resources is None:
        # No resources: pypdf's text extraction returns at once, but paths can still be painted.
        if contents is not None:
            for operands, operator in _operations(page["/Contents"], reader):
                walker.before(operator, operands)
                walker.after(operator, operands)
        return
    page.extract_text(
        visitor_operand_before=walker.before, visitor_operand_after=walker.after, visitor_text=walker.text
    )
    if walker.aborted:
        raise _TooComplex


def _page_box_problems(page: Any, zone: Zone) -> list[CheckProblem]:
    problems = []
    media = page.mediabox
    w_pt, h_pt = float(media.width), float(media.height)
    want_w, want_h = (v / MM_PER_PT for v in zone.page_mm)
    if abs(w_pt - want_w) > PAGE_TOLERANCE_PT or abs(h_pt - want_h) > PAGE_TOLERANCE_PT:
        size = f"{_fmt(w_pt * MM_PER_PT)} x {_fmt(h_pt * MM_PER_PT)} mm"
        want = f"{_fmt(zone.page_mm[0])} x {_fmt(zone.page_mm[1])} mm"
        landscape = abs(w_pt - want_h) <= PAGE_TOLERANCE_PT and abs(h_pt - want_w) <= PAGE_TOLERANCE_PT
        problems.append(
            CheckProblem(
                code="wrong_page_size",
                message=f"the page is {size}{' (landscape)' if landscape else ''}; {zone.id} needs "
                f"{zone.paper} portrait ({want})",
                fix=f"set the page size to {zone.paper} portrait ({want})",
                measured={"width_mm": round(w_pt * MM_PER_PT, 1), "height_mm": round(h_pt * MM_PER_PT, 1)},
            )
        )
    rotation = page.rotation % 360
    if rotation:
        problems.append(
            CheckProblem(
                code="page_rotated",
                message=f"the page is rotated by {rotation}° (/Rotate)",
                fix="export the page upright: portrait content with no page rotation",
                measured={"rotate": rotation},
            )
        )
    crop = page.cropbox
    if any(abs(float(a) - float(b)) > PAGE_TOLERANCE_PT for a, b in zip(crop, media, strict=True)):
        problems.append(
            CheckProblem(
                code="cropbox_mismatch",
                message="the visible page (CropBox) differs from the paper (MediaBox), so positions are ambiguous",
                fix="export without crop or bleed marks so that CropBox and MediaBox are the same",
                measured={
                    "cropbox_pt": [round(float(v), 1) for v in crop],
                    "mediabox_pt": [round(float(v), 1) for v in media],
                },
            )
        )
    return problems


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


def _annotation_findings(page: Any) -> Iterator[tuple[CheckProblem | None, _Item | None]]:
    annots = _resolve(page.get("/Annots"))
    if not isinstance(annots, ArrayObject):
        return
    crop = page.cropbox
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
        if isinstance(rect, ArrayObject) and len(rect) == 4:
            x0, y0, x1, y1 = (float(v) for v in rect)
            box = Rect(
                (min(x0, x1) - float(crop.left)) * MM_PER_PT,
                (max(x0, x1) - float(crop.left)) * MM_PER_PT,
                (float(crop.top) - max(y0, y1)) * MM_PER_PT,
                (float(crop.top) - min(y0, y1)) * MM_PER_PT,
            )
            yield None, _Item(f"{subtype} annotation", box)


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


def _clear_zone_problems(items: list[_Item], zone: Zone, page_w: float, page_h: float) -> list[CheckProblem]:
    problems = []
    for name, rect in zone.clear.items():
        padded = _pad(rect, ZONE_PAD_MM)
        hits = [i for i in items if padded.overlaps(i.box)]
        if hits:
            problems.append(_zone_problem(name, rect, hits, page=1))
    if zone.border_mm > 0:
        problems.extend(_border_items_problem(items, zone, page_w, page_h, page=1))
    return problems


def _border_items_problem(
    items: list[_Item], zone: Zone, page_w: float, page_h: float, page: int
) -> list[CheckProblem]:
    inner = _pad(Rect(zone.border_mm, page_w - zone.border_mm, zone.border_mm, page_h - zone.border_mm), -ZONE_PAD_MM)
    hits = [i for i in items if not inner.contains(i.box)]
    return [_zone_problem("border", inner, hits, page=page)] if hits else []


def _border_problems(annots: list[tuple[int, _Item]], zone: Zone, reader: PdfReader) -> list[CheckProblem]:
    """The border rule holds on every page; beyond page 1 only annotations are checked (their rects are free)."""
    if zone.border_mm <= 0:
        return []
    problems = []
    for number in sorted({n for n, _ in annots}):
        crop = reader.pages[number - 1].cropbox
        items = [i for n, i in annots if n == number]
        problems.extend(
            _border_items_problem(
                items, zone, float(crop.width) * MM_PER_PT, float(crop.height) * MM_PER_PT, page=number
            )
        )
    return problems


def _zone_problem(name: str, rect: Rect, hits: list[_Item], page: int) -> CheckProblem:
    box = _union([i.box for i in hits])
    kinds = sorted({i.kind for i in hits})
    sample = next((i.text for i in hits if i.text), "")
    what = ", ".join(kinds) + (f" ('{sample[:40]}')" if sample else "")
    if name == "border":
        message = (
            f"content within {_fmt(rect.x0 - ZONE_PAD_MM)} mm of the page edge on page {page}: {what} at "
            f"{_describe(box)}"
        )
        fix = f"keep all content inside {_describe(rect)} (a {_fmt(rect.x0 - ZONE_PAD_MM)} mm empty border)"
    else:
        message = f"the {name} zone ({_describe(rect)}) must stay empty; found {what} at {_describe(box)}"
        fix = f"move or remove the content at {_describe(box)} so that {_describe(rect)} stays empty"
    return CheckProblem(
        code="content_in_clear_zone",
        message=message,
        fix=fix,
        page=page,
        zone=name,
        measured={"box_mm": _rect_dict(box), "zone_mm": _rect_dict(rect), "kinds": kinds, "count": len(hits)},
    )


def _text_blocks(texts: list[_Item]) -> list[list[_Item]]:
    """Group text into blocks of consecutive lines (baseline pitch ≤ MAX_LINE_PITCH font sizes)."""
    blocks: list[list[_Item]] = []
    for item in sorted(texts, key=lambda i: i.box.y1):
        if blocks:
            last = blocks[-1][-1]
            pitch = item.box.y1 - last.box.y1  # y1 is baseline + descent for both
            if pitch <= MAX_LINE_PITCH * max(item.size_mm, last.size_mm):
                blocks[-1].append(item)
                continue
        blocks.append([item])
    return blocks


def _overlap_area(a: Rect, b: Rect) -> float:
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


def _distance(a: Rect, b: Rect) -> float:
    dx = max(0.0, b.x0 - a.x1, a.x0 - b.x1)
    dy = max(0.0, b.y0 - a.y1, a.y0 - b.y1)
    return math.hypot(dx, dy)


def _find_address(items: list[_Item], zone: Zone) -> tuple[Rect | None, list[CheckProblem]]:
    """Locate the recipient block on page 1 and say how far it is off the window."""
    window = zone.address
    region = Rect(
        window.x0 - SEARCH_MARGIN_X_MM,
        window.x1 + SEARCH_MARGIN_X_MM,
        window.y0 - SEARCH_MARGIN_Y_MM,
        window.y1 + SEARCH_MARGIN_Y_MM,
    )
    texts = [i for i in items if i.kind == "text" and region.overlaps(i.box)]
    blocks = [_union([i.box for i in b]) for b in _text_blocks(texts)]
    in_window = [b for b in blocks if _overlap_area(b, window) > 0]
    if not in_window:
        pictures = [i for i in items if i.kind in ("image", "path") and i.filled and window.overlaps(i.box)]
        if pictures:
            box = _union([i.box for i in pictures])
            return None, [
                CheckProblem(
                    code="address_not_machine_readable",
                    message=f"the address window ({_describe(window)}) holds an image or outlines "
                    f"({_describe(box)}) but no text",
                    fix=f"put the recipient address in as real text (not a scan or text converted to curves) at "
                    f"{_describe(window)}",
                    zone="address",
                    measured={"box_mm": _rect_dict(box), "window_mm": _rect_dict(window)},
                )
            ]
    candidates = in_window or blocks
    if not candidates:
        return None, [
            CheckProblem(
                code="address_not_found",
                message=f"no text found in or near the address window ({_describe(window)})",
                fix=f"place the recipient address as text inside {_describe(window)}",
                zone="address",
                measured={"window_mm": _rect_dict(window)},
            )
        ]
    box = max(candidates, key=lambda b: (_overlap_area(b, window), -_distance(b, window)))
    if window.contains(box):
        return box, []
    return box, [_outside_window_problem(box, window)]


def _outside_window_problem(box: Rect, window: Rect) -> CheckProblem:
    moves: list[str] = []
    measured: dict[str, Any] = {"box_mm": _rect_dict(box), "window_mm": _rect_dict(window)}
    if box.y1 - box.y0 > window.y1 - window.y0:
        moves.append(
            f"make the address block shorter: it is {_fmt(box.y1 - box.y0)} mm tall, the window "
            f"{_fmt(window.y1 - window.y0)} mm (fewer lines or a smaller font)"
        )
    elif box.y0 < window.y0:
        measured["move_down_mm"] = round(window.y0 - box.y0, 1)
        moves.append(
            f"move the address block down {_fmt(window.y0 - box.y0)} mm: it starts at {_fmt(box.y0)} mm, "
            f"the window starts at {_fmt(window.y0)} mm"
        )
    elif box.y1 > window.y1:
        measured["move_up_mm"] = round(box.y1 - window.y1, 1)
        moves.append(
            f"move the address block up {_fmt(box.y1 - window.y1)} mm: it ends at {_fmt(box.y1)} mm, "
            f"the window ends at {_fmt(window.y1)} mm"
        )
    if box.x1 - box.x0 > window.x1 - window.x0:
        moves.append(
            f"make the address lines shorter: they are {_fmt(box.x1 - box.x0)} mm wide, the window "
            f"{_fmt(window.x1 - window.x0)} mm"
        )
    elif box.x0 < window.x0:
        measured["move_right_mm"] = round(window.x0 - box.x0, 1)
        moves.append(
            f"move the address block right {_fmt(window.x0 - box.x0)} mm: it starts at x {_fmt(box.x0)} "
            f"mm, the window at x {_fmt(window.x0)} mm"
        )
    elif box.x1 > window.x1:
        measured["move_left_mm"] = round(box.x1 - window.x1, 1)
        moves.append(
            f"move the address block left {_fmt(box.x1 - window.x1)} mm: it ends at x {_fmt(box.x1)} mm, "
            f"the window ends at x {_fmt(window.x1)} mm"
        )
    return CheckProblem(
        code="address_outside_window",
        message=f"the address block ({_describe(box)}) is not inside the window ({_describe(window)})",
        fix="; ".join(moves),
        page=1,
        zone="address",
        measured=measured,
    )

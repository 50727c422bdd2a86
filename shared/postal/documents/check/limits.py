"""The bounds of a check: page tolerances, the operation and pixel limits, the provider's file limits, and the
CPU budget (a clock checked between pages and inside PDFium's progressive rendering)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pypdfium2.raw as pdfium_c
from pydantic import BaseModel
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

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


def _resolve(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj

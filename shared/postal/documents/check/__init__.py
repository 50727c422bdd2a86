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

The package: `run` (entry points and the check), `limits` (bounds and the CPU budget), `pages` (PDFium pages),
`page_rules`, `address` (the recipient block and its moves), `structure` (pypdf), `results` (what comes back).
"""

from __future__ import annotations

from postal.documents.check.limits import PdfLimits
from postal.documents.check.results import AddressBox, AddressLine, CheckProblem, CheckResult, WindowAddress
from postal.documents.check.run import check_pdf, read_window_address

__all__ = [
    "AddressBox",
    "AddressLine",
    "CheckProblem",
    "CheckResult",
    "PdfLimits",
    "WindowAddress",
    "check_pdf",
    "read_window_address",
]

"""The text a window envelope shows: what page 1 of a PDF prints inside the address window of a zone.

A small, focused extraction with pdfium (the engine Chrome prints with), kept apart from the template check so it
can later be replaced by the check's own text positions.
"""

from __future__ import annotations

import pypdfium2 as pdfium

from postal.documents.zones import MM_PER_PT, Zone
from postal.errors import ValidationFailed


def window_text(pdf: bytes, zone: Zone) -> str:
    """The text of page 1 inside the zone's address window, in reading order (lines separated by newlines).

    Coordinates: zones are in mm from the top-left of the page; pdfium's are PDF points from the bottom-left of
    the page's crop box. Raises `ValidationFailed` (`pdf_unreadable`) when pdfium cannot open the file.
    """
    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise ValidationFailed(
            "the PDF is damaged and cannot be read",
            code="pdf_unreadable",
            details={"reason": str(exc)[:300]},
            fix="export or print the document to PDF again and upload the new file",
        ) from exc
    try:
        page = document[0]
        # The effective crop box (inherited boxes included; `get_cropbox` only reads the page's own entry).
        left, _bottom, _right, top = page.get_bbox()
        window = zone.address
        text_page = page.get_textpage()
        try:
            text = text_page.get_text_bounded(
                left=left + window.x0 / MM_PER_PT,
                bottom=top - window.y1 / MM_PER_PT,
                right=left + window.x1 / MM_PER_PT,
                top=top - window.y0 / MM_PER_PT,
            )
        finally:
            text_page.close()
            page.close()
    finally:
        document.close()
    return text.replace("\r\n", "\n").replace("\r", "\n")

"""The document renderer: invoices, reminders and letters as print-ready PDFs for window envelopes (fpdf2).

Layout rules (address-geometry.md):
- the recipient address sits inside the window standard's address rectangle, drawn with `FPDF.text` at its
  baseline so no cell padding moves it (§4); its lines come from `address_format` (the destination post's rules);
  the block shrinks to fit, down to 8 pt, or the render is refused before anything is drawn, naming the line;
- nothing is drawn in the zone's clear rectangles or in its border (on every page); the header, the body and the
  footer are placed around them;
- every text box is measured before it is placed: columns take the width of their content, long values shrink
  within limits or wrap, nothing is cut off; a table continued on the next page repeats its header;
- only the embedded DejaVu Sans (see `postal.documents.fonts`) is used, never a core font.

All positions are mm from the top-left corner; font sizes are pt.

The package: `request` (what to render, constants, content rules), `layout` (primitives, cursor, footer),
`first_page` (header, return line, address), `tables`, `content` (invoice, dunning, QR; `render_document`).
"""

from __future__ import annotations

from postal.documents.render.content import render_document
from postal.documents.render.request import (
    DUNNING_KINDS,
    FINAL_NOTICE_DAYS,
    MARGIN_X,
    REMINDER_DAYS,
    RETURN_LINE_SIZES,
    DocumentKind,
    DocumentRequest,
    RenderedDocument,
    instalment_due,
)

__all__ = [
    "DUNNING_KINDS",
    "FINAL_NOTICE_DAYS",
    "MARGIN_X",
    "REMINDER_DAYS",
    "RETURN_LINE_SIZES",
    "DocumentKind",
    "DocumentRequest",
    "RenderedDocument",
    "instalment_due",
    "render_document",
]

"""The layout primitives: measured lines, text that fits or wraps, the cursor, page breaks and the footer band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from fpdf import FPDF

from postal.documents import i18n
from postal.documents.fonts import FAMILY, attach_fonts
from postal.documents.render.request import (
    BODY_PT,
    COLUMN_GAP,
    FOOTER_PT,
    LEADING,
    LINE_MM,
    MARGIN_X,
    DocumentRequest,
    _grouped,
)
from postal.documents.zones import MM_PER_PT, Rect, Zone

# Sum of glyph advances (font units) per (face, string): labels, dates and amounts recur in every letter and the
# layout measures each string several times (fit, wrap, alignment). Bounded; cleared when full.
_ADVANCES: dict[tuple[str, str], float] = {}


_ADVANCES_MAX = 50_000


@dataclass(frozen=True)
class _Line:
    """One measured line of text, to be drawn at (x, baseline)."""

    x: float
    baseline: float
    size: float
    bold: bool
    text: str


@dataclass(frozen=True)
class _Column:
    label: str
    align: str  # "L" | "R"
    flex: bool = False  # takes the width left over and wraps


class _Pdf(FPDF):
    """An FPDF whose footer is drawn by the layout; fpdf2 calls `footer` as each page is finished."""

    def __init__(self, layout: _Layout, *, paper: str) -> None:
        super().__init__(unit="mm", format="letter" if paper == "LETTER" else "A4")
        self.layout = layout

    def footer(self) -> None:
        self.layout.footer()


class _Layout:
    """One document being laid out; tracks the cursor and breaks pages so nothing runs into the footer."""

    def __init__(self, request: DocumentRequest, zone: Zone) -> None:
        self.request = request
        self.zone = zone
        self.lang = request.language
        self.labels = i18n.LABELS[request.language]
        self.width, self.height = zone.page_mm
        self.edge = max(zone.border_mm, 5.0) + 3.0  # distance of header/footer from the paper edge
        self.right = self.width - MARGIN_X
        pdf = _Pdf(self, paper=zone.paper)
        pdf.set_auto_page_break(False)  # pages are broken here, so the footer band always stays empty
        pdf.set_creator("Postal Comms")
        # Same input, same bytes (and sha256): the creation date is the document date, not the wall clock.
        pdf.set_creation_date(datetime.combine(request.document_date, time(), tzinfo=UTC))
        attach_fonts(pdf)
        self.pdf = pdf
        self.y = 0.0
        sender = request.branding.sender_address
        self.abroad = sender is not None and sender.country != request.recipient.country
        self.footer_lines = self._footer_lines()
        self.footer_top = self.height - self.edge - len(self.footer_lines) * FOOTER_PT * MM_PER_PT * LEADING
        self.body_bottom = self.footer_top - 4.0

    def font(self, size: float, *, bold: bool = False) -> None:
        self.pdf.set_font(FAMILY, "B" if bold else "", size)

    def text(self, x: float, baseline: float, s: str) -> None:
        self.pdf.text(x, baseline, s)

    def draw(self, lines: Sequence[_Line]) -> None:
        for line in lines:
            self.font(line.size, bold=line.bold)
            self.text(line.x, line.baseline, line.text)

    def string_width(self, s: str) -> float:
        """Width of `s` in mm at the current font: fpdf2's own sum of glyph advances (`cw`), without its per-call
        text-shaping pipeline, which costs more than the letter's layout. Exact as long as nothing stretches or
        spaces characters, which this renderer never does."""
        pdf = self.pdf
        font = pdf.current_font
        key = (font.fontkey, s)  # type: ignore[union-attr]
        units = _ADVANCES.get(key)
        if units is None:
            if len(_ADVANCES) >= _ADVANCES_MAX:
                _ADVANCES.clear()
            cw: dict[int, float] = font.cw  # type: ignore[union-attr,assignment]  # always a TTFFont here
            units = _ADVANCES[key] = float(sum(cw[ord(c)] for c in s))
        return units * pdf.font_size_pt * 0.001 / pdf.k

    def width_at(self, s: str, size: float, *, bold: bool = False) -> float:
        self.font(size, bold=bold)
        return self.string_width(s)

    def wrap(self, s: str, width: float) -> list[str]:
        """Greedy word wrap at the current font; a single word wider than `width` is broken across lines (never
        dropped)."""
        lines: list[str] = []
        for paragraph in s.splitlines() or [""]:
            current = ""
            # Split at plain spaces only: no-break spaces (Babel's "1 234,50 €", French "Date :") stay put.
            for word in filter(None, paragraph.split(" ")):
                candidate = f"{current} {word}" if current else word
                if self.string_width(candidate) <= width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                rest = word
                while self.string_width(rest) > width and len(rest) > 1:
                    cut = len(rest) - 1
                    while cut > 1 and self.string_width(rest[:cut]) > width:
                        cut -= 1
                    lines.append(rest[:cut])
                    rest = rest[cut:]
                current = rest
            lines.append(current)
        return lines

    def fit(self, s: str, width: float, sizes: Sequence[float], *, bold: bool = False) -> tuple[float, list[str]]:
        """The largest size at which `s` fits `width` on one line, else `s` wrapped at the smallest size."""
        for size in sizes:
            if self.width_at(s, size, bold=bold) <= width:
                return size, [s]
        return sizes[-1], self.wrap(s, width)

    def new_page(self) -> None:
        """A continuation page: its running header says what letter it belongs to."""
        self.pdf.add_page()
        title = i18n.TITLES[self.lang].get(self.request.kind.value) or self.request.branding.name
        running = self.labels["continued"].format(
            title=title,
            name=self.request.recipient.company or self.request.recipient.name,
            date=i18n.day(self.request.document_date, self.lang),
        )
        self.font(8.0)
        y = self.edge + 2.0
        for s in self.wrap(running, self.right - MARGIN_X):
            y += 8.0 * MM_PER_PT
            self.text(MARGIN_X, y, s)
            y += 8.0 * MM_PER_PT * (LEADING - 1)
        self.y = y + 6.0

    def need(self, height: float) -> bool:
        """Start a new page unless `height` mm still fit above the footer; True when a page was started."""
        if self.y + height > self.body_bottom:
            self.new_page()
            return True
        return False

    def line(self, s: str, *, size: float = BODY_PT, bold: bool = False, x: float = MARGIN_X) -> None:
        self.need(size * MM_PER_PT * LEADING)
        self.font(size, bold=bold)
        self.y += size * MM_PER_PT
        self.text(x, self.y, s)
        self.y += size * MM_PER_PT * (LEADING - 1)

    def paragraph(self, s: str, *, bold: bool = False) -> None:
        self.font(BODY_PT, bold=bold)
        for text in self.wrap(s, self.right - MARGIN_X):
            self.line(text, bold=bold)
        self.y += 2.0

    def _blocked(self) -> list[Rect]:
        zone = self.zone
        return [zone.address, *([zone.return_line] if zone.return_line else []), *zone.clear.values()]

    def meta(self, rows: list[tuple[str, str]]) -> None:
        """Label/value rows; the label column is as wide as its longest label, values wrap beside it."""
        if not rows:
            return
        self.font(BODY_PT)
        body = self.right - MARGIN_X
        colon = self.labels["colon"]
        label_w = min(max(self.string_width(f"{label}{colon}") for label, _ in rows), body * 0.4)
        value_x = MARGIN_X + label_w + COLUMN_GAP
        for label, value in rows:
            self.font(BODY_PT)
            labels = self.wrap(f"{label}{colon}", label_w)
            values = self.wrap(value, self.right - value_x)
            self.need(max(len(labels), len(values)) * LINE_MM)
            base = self.y + BODY_PT * MM_PER_PT
            for i, s in enumerate(labels):
                self.text(MARGIN_X, base + i * LINE_MM, s)
            for i, s in enumerate(values):
                self.text(value_x, base + i * LINE_MM, s)
            self.y += max(len(labels), len(values)) * LINE_MM

    def rule(self) -> None:
        self.pdf.set_line_width(0.2)
        self.pdf.line(MARGIN_X, self.y, self.right, self.y)
        self.y += 1.0

    def _page_label_width(self) -> float:
        return self.width_at(self.labels["page"].format(page=999, pages=999), FOOTER_PT) + 2.0

    def _footer_lines(self) -> list[str]:
        """Name, VAT number and bank details, then the org's footer text, wrapped beside the page number."""
        branding = self.request.branding
        parts = [branding.name]
        if branding.vat_number:
            parts.append(f"{self.labels['our_vat']} {branding.vat_number}")
        if branding.iban:
            parts.append(f"IBAN {_grouped(branding.iban)}")
        if branding.bic:
            parts.append(f"BIC {branding.bic}")
        width = self.right - MARGIN_X - self._page_label_width() - COLUMN_GAP
        self.font(FOOTER_PT)
        # Lines break between the parts, never inside one ("BIC" | "ABNANL2A", or an IBAN cut in two).
        lines = self.wrap(" · ".join(part.replace(" ", "\u00a0") for part in parts), width)
        if branding.footer:
            lines += self.wrap(branding.footer, width)
        return lines

    def footer(self) -> None:
        """Bank details and page number, above the border and right of Pingen's bottom-left square."""
        step = FOOTER_PT * MM_PER_PT * LEADING
        baseline = self.footer_top + FOOTER_PT * MM_PER_PT
        self.font(FOOTER_PT)
        for i, s in enumerate(self.footer_lines):
            self.text(MARGIN_X, baseline + i * step, s)
        # fpdf2 replaces "{nb}" with the page count when the document is written (in cells, not in `text`).
        label_w = self._page_label_width()
        page_label = self.labels["page"].format(page=self.pdf.page_no(), pages="{nb}")
        self.pdf.set_xy(self.right - label_w, baseline - FOOTER_PT * MM_PER_PT)
        self.pdf.cell(label_w, FOOTER_PT * MM_PER_PT, page_label, align="R")

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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache
from io import BytesIO

from fpdf import FPDF
from PIL import Image
from pydantic import BaseModel, ConfigDict

from postal.documents import i18n
from postal.documents.address_format import country_language, country_name, format_address, sender_lines
from postal.documents.fonts import FAMILY, FontOutputProducer, attach_fonts
from postal.documents.payment_qr import EPC_REMITTANCE_MAX, epc_payload, qr_png
from postal.documents.zones import MM_PER_PT, Rect, Zone, get_zone
from postal.errors import ValidationFailed
from postal.models import Address, Branding, Instalment, Invoice, Language, Money

CENT = Decimal("0.01")
MARGIN_X = 20.0  # left/right body margin; also keeps text out of Pingen's 15 x 15 mm bottom-left square
ADDRESS_MAX_PT = 10.0
ADDRESS_MIN_PT = 8.0  # DIN 5008: type in the address zone is at least 8 pt
ADDRESS_LEADINGS = (1.25, 1.15, 1.05)  # line spacing as a multiple of the font size, loosest first
ADDRESS_INSET = 0.2  # mm kept free inside the window edges: fpdf2 rounds coordinates to 0.01 pt
DESCENT = 0.24  # DejaVu Sans descender depth, in em (hhea descent 483/2048)
RETURN_LINE_SIZES = (7.0, 6.5, 6.0)  # the return line shrinks to 6 pt before it is abbreviated
SENDER_NAME_SIZES = (12.0, 11.0, 10.0, 9.0)
SENDER_PT = 8.0
FOOTER_PT = 7.0
QR_MM = 28.0
LOGO_MM = 14.0  # logo height (less for a logo wider than the sender column)
BODY_PT = 9.5
TABLE_SIZES = (BODY_PT, 8.5, 8.0)  # a table whose columns do not fit shrinks, down to 8 pt
LEADING = 1.35
LINE_MM = BODY_PT * MM_PER_PT * LEADING
COLUMN_GAP = 4.0
FLEX_MIN_MM = 40.0  # the wrapping column (description, invoice number) keeps at least this width
REMINDER_DAYS = 14  # days from the document date to a reminder's payment deadline
FINAL_NOTICE_DAYS = 8


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    REMINDER = "reminder"
    FINAL_NOTICE = "final_notice"
    PAYMENT_PLAN_REMINDER = "payment_plan_reminder"
    LETTER = "letter"
    COVER_PAGE = "cover_page"


DUNNING_KINDS = frozenset({DocumentKind.REMINDER, DocumentKind.FINAL_NOTICE, DocumentKind.PAYMENT_PLAN_REMINDER})


class DocumentRequest(BaseModel):
    """What to render: the kind, the window standard, the sender's branding, the recipient and the content."""

    model_config = ConfigDict(extra="forbid")

    kind: DocumentKind
    language: Language
    zone_id: str  # window standard id from zones.json
    branding: Branding
    recipient: Address
    invoices: list[Invoice] = []
    paper_invoice_fee: Money | None = None  # a fee line appears (and counts in the totals) when set
    body: str | None = None  # free text for kind=letter / cover page
    document_date: date


class RenderedDocument(BaseModel):
    pdf: bytes
    page_count: int
    sha256: str
    paper: str  # 'A4' | 'LETTER'


def render_document(request: DocumentRequest) -> RenderedDocument:
    """Render the request to a PDF laid out for its window standard.

    Raises `NotFound` for an unknown zone id and `ValidationFailed` (`address_breaks_postal_rules`,
    `address_does_not_fit`, `sender_does_not_fit`, `mixed_currencies`) when the document cannot be laid out
    correctly; the address is checked before anything is drawn.
    """
    zone = get_zone(request.zone_id)
    sender = request.branding.sender_address
    recipient = [line.text for line in format_address(request.recipient, sender.country if sender else None,
                                                          request.language)]  # fmt: skip
    page = _Page(request, zone)
    address = page.plan_address(recipient)
    page.first_page(address)
    kind = request.kind
    if kind is DocumentKind.INVOICE:
        for invoice in request.invoices:
            page.invoice(invoice)
    elif kind in DUNNING_KINDS:
        page.dunning()
    if request.body:
        page.paragraph(request.body)
    pdf = bytes(page.pdf.output(output_producer_class=FontOutputProducer))
    return RenderedDocument(
        pdf=pdf, page_count=page.pdf.pages_count, sha256=hashlib.sha256(pdf).hexdigest(), paper=zone.paper
    )


# ---------------------------------------------------------------------------------------------------------------
# Content that does not depend on the layout.


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class _Totals:
    net: Decimal = Decimal(0)
    vat_by_rate: dict[Decimal, Decimal] = field(default_factory=dict)  # rate -> net amount at that rate

    def add(self, net: Decimal, rate: Decimal) -> None:
        self.net += net
        self.vat_by_rate[rate] = self.vat_by_rate.get(rate, Decimal(0)) + net

    def vat(self, rate: Decimal) -> Decimal:
        return _round(self.vat_by_rate[rate] * rate / 100)

    @property
    def gross(self) -> Decimal:
        return self.net + sum((self.vat(rate) for rate in self.vat_by_rate), Decimal(0))


def _reference(invoices: list[Invoice], labels: dict[str, str]) -> str | None:
    """The payment reference: a single invoice's own, else the invoice numbers, else (too long for the EPC
    remittance field) the count and the first and last number, which the table above lists in full."""
    if len(invoices) == 1 and invoices[0].payment_reference:
        return invoices[0].payment_reference
    if not invoices:
        return None
    numbers = ", ".join(inv.number for inv in invoices)
    if len(numbers) <= EPC_REMITTANCE_MAX:
        return numbers
    short = labels["invoices_ref"].format(count=len(invoices), first=invoices[0].number, last=invoices[-1].number)
    return short if len(short) <= EPC_REMITTANCE_MAX else None


def instalment_due(instalments: list[Instalment], today: date) -> tuple[list[Instalment], date | None]:
    """What the payment-plan reminder asks for: every open instalment due by `today` (pay within the reminder
    period), else the next open one (pay by its due date); empty when everything is paid."""
    open_ = sorted((i for i in instalments if not i.paid), key=lambda i: i.due_date)
    overdue = [i for i in open_ if i.due_date <= today]
    if overdue:
        return overdue, today + timedelta(days=REMINDER_DAYS)
    return open_[:1], (open_[0].due_date if open_ else None)


@lru_cache(maxsize=32)
def _logo_png(logo_base64: str) -> tuple[bytes, float]:
    """The logo's bytes and its width / height ratio. Decoded once per distinct logo: orgs send the same logo
    with every letter."""
    try:
        data = base64.b64decode(logo_base64, validate=True)
        with Image.open(BytesIO(data)) as image:
            width, height = image.size
    except (binascii.Error, OSError) as exc:
        raise ValidationFailed("branding logo is not a valid base64 PNG", code="invalid_logo") from exc
    return data, width / height


# ---------------------------------------------------------------------------------------------------------------
# Layout.


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


class _Page:
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

    # -- primitives ------------------------------------------------------------------------------------------

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

    # -- page 1 ----------------------------------------------------------------------------------------------

    def _blocked(self) -> list[Rect]:
        zone = self.zone
        return [zone.address, *([zone.return_line] if zone.return_line else []), *zone.clear.values()]

    def first_page(self, address: list[_Line]) -> None:
        self.pdf.add_page()
        header_bottom = self.header()
        self.return_line()
        self.draw(address)
        # The body starts below everything the window standard reserves in the top half of page 1 (the bottom
        # half only has footer-level zones such as Pingen's bottom-left square, which the margins avoid).
        top_half = [r.y1 for r in self._blocked() if r.y0 < self.height / 2]
        self.y = max([*top_half, self.zone.body_min_y or 0.0, header_bottom]) + 8.0
        title = i18n.TITLES[self.lang].get(self.request.kind.value)
        if title:
            self.line(title, size=14, bold=True)
            self.y += 1.0
        branding, labels = self.request.branding, self.labels
        customer_numbers = list(dict.fromkeys(i.customer_number for i in self.request.invoices if i.customer_number))
        rows = [(labels["date"], i18n.day(self.request.document_date, self.lang, long=True))]
        if customer_numbers:
            rows.append((labels["customer_number"], ", ".join(customer_numbers)))
        if branding.vat_number:
            rows.append((labels["our_vat"], branding.vat_number))
        if branding.contact_name:
            rows.append((labels["contact"], branding.contact_name))
        if branding.contact_phone:
            rows.append((labels["phone"], branding.contact_phone))
        if branding.contact_email:
            rows.append((labels["email"], branding.contact_email))
        self.meta(rows)
        self.y += 3.0

    def _sender_rows(self) -> list[str]:
        sender = self.request.branding.sender_address
        if sender is None:
            return []
        rows = [line.text for line in sender_lines(sender)]
        if self.abroad:
            rows.append(country_name(sender.country, country_language(sender.country, self.lang)))
        return rows

    def _sender_block(self, left: float, right: float, top: float) -> tuple[list[_Line], float]:
        """The organisation's name and address laid out in the column `left`..`right`; returns its bottom."""
        width = right - left
        y = top + (LOGO_MM + 1.5 if self.request.branding.logo_png_base64 else 0.0)
        out: list[_Line] = []
        size, name_lines = self.fit(self.request.branding.name, width, SENDER_NAME_SIZES, bold=True)
        rows = [(s, size, True) for s in name_lines]
        self.font(SENDER_PT)
        rows += [(s, SENDER_PT, False) for row in self._sender_rows() for s in self.wrap(row, width)]
        for s, size, bold in rows:
            baseline = y + size * MM_PER_PT
            out.append(_Line(left, baseline, size, bold, s))
            y = baseline + size * MM_PER_PT * 0.45
        return out, out[-1].baseline + DESCENT * out[-1].size * MM_PER_PT

    def _sender_columns(self) -> list[tuple[float, float, float]]:
        """The right and the left half of the top of page 1, each kept 5 mm from the window standard's zones
        beside it: (left, right, lowest y the block may reach); a column right above a zone comes last."""
        mid = self.width / 2
        top_zones = [r for r in self._blocked() if r.y0 < self.height / 2]
        right_start = max([mid + 5.0, *(r.x1 + 5.0 for r in top_zones if mid - 5.0 < r.x1 < self.right - 55.0)])
        left_end = min([mid - 5.0, *(r.x0 - 5.0 for r in top_zones if MARGIN_X + 55.0 < r.x0 < mid + 5.0)])
        out = []
        for left, right in ((right_start, self.right), (MARGIN_X, left_end)):
            below = [r.y0 for r in top_zones if r.x0 < right and r.x1 > left]
            out.append((left, right, min([*below, self.height / 2]) - 2.0))
        # Right above the window the sender's block would read as the recipient's (NF Z 11-001): last resort.
        return sorted(out, key=lambda column: column[2] < self.height / 2 - 2.0)

    def header(self) -> float:
        """Logo, organisation name and sender address (with its country on mail abroad) at the top of page 1, in
        the first column clear of the window standard's zones; returns the block's bottom."""
        top = self.edge + 2.0
        for left, right, limit in self._sender_columns():
            lines, bottom = self._sender_block(left, right, top)
            if bottom <= limit:
                break
        else:
            raise ValidationFailed(
                f"the sender name and address do not fit above the {self.zone.id} window",
                code="sender_does_not_fit",
                details={"zone_id": self.zone.id},
                fix="shorten the branding name or the sender address lines",
            )
        logo = self.request.branding.logo_png_base64
        if logo:
            data, ratio = _logo_png(logo)
            w = min(right - left, LOGO_MM * ratio)  # a wide logo is scaled down to the column, never past it
            self.pdf.image(BytesIO(data), x=left, y=top, w=w, h=w / ratio)
        self.draw(lines)
        return bottom

    def return_line(self) -> None:
        """The sender's return address at the bottom of the zone's return/remark area (DIN 5008): one line,
        shrunk to 6 pt, then with the country abbreviated, then without the street; only then on two lines."""
        rect = self.zone.return_line
        sender = self.request.branding.sender_address
        if rect is None or sender is None:
            return
        local = sender_lines(sender)
        name = self.request.branding.name
        street = [line.text for line in local if line.fields[0].startswith("lines[")]
        postal = [line.text for line in local if not line.fields[0].startswith("lines[")]
        country = [self._sender_rows()[-1]] if self.abroad else []
        code = [sender.country] if self.abroad else []
        x, width = self.zone.text_x, rect.x1 - self.zone.text_x
        smallest = RETURN_LINE_SIZES[-1]
        tries = [([name, *street, *postal, *country], size) for size in RETURN_LINE_SIZES]
        tries += [([name, *street, *postal, *code], smallest), ([name, *postal, *code], smallest)]
        for parts, size in tries:
            s = " · ".join(parts)
            if self.width_at(s, size) <= width:
                self.text(x, rect.y1 - 1.5, s)
                return
        # written from the bottom up, as DIN 5008 fills the return/remark zone
        lines = self.wrap(" · ".join(tries[-1][0]), width)
        step = smallest * MM_PER_PT * 1.2
        for i, s in enumerate(reversed(lines)):
            self.text(x, rect.y1 - 1.5 - i * step, s)

    def plan_address(self, lines: list[str]) -> list[_Line]:
        """The recipient block placed in the window, largest size and loosest leading first; refused (naming the
        line) when it fits at no size."""
        zone = self.zone
        rect = zone.address
        width = rect.x1 - zone.text_x
        for size in (ADDRESS_MAX_PT, 9.0, ADDRESS_MIN_PT):
            self.font(size)
            if max(self.string_width(s) for s in lines) > width:
                continue
            size_mm = size * MM_PER_PT
            for leading in ADDRESS_LEADINGS:
                step = size_mm * leading
                first = rect.y0 + ADDRESS_INSET + size_mm  # line top = baseline - font size
                if first + (len(lines) - 1) * step + DESCENT * size_mm <= rect.y1 - ADDRESS_INSET:
                    return [_Line(zone.text_x, first + i * step, size, False, s) for i, s in enumerate(lines)]
        self.font(ADDRESS_MIN_PT)
        widths = [self.string_width(s) for s in lines]
        widest = max(range(len(lines)), key=widths.__getitem__)
        if widths[widest] > width:
            message = (
                f"address line {widest + 1} ('{lines[widest]}') is {widths[widest]:.1f} mm wide at"
                f" {ADDRESS_MIN_PT:g} pt; the {zone.id} window gives {width:.1f} mm"
            )
            details = {"zone_id": zone.id, "line": widest + 1, "problem": "line_too_wide",
                       "width_mm": round(widths[widest], 1), "max_width_mm": round(width, 1)}  # fmt: skip
        else:
            message = f"the address has {len(lines)} lines; the {zone.id} window holds fewer at {ADDRESS_MIN_PT:g} pt"
            details = {"zone_id": zone.id, "lines": len(lines), "problem": "too_many_lines"}
        raise ValidationFailed(
            message,
            code="address_does_not_fit",
            details=details,
            fix="shorten the address lines (abbreviate the street or company name) or drop the company line",
        )

    # -- content ---------------------------------------------------------------------------------------------

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

    def _table_widths(self, columns: list[_Column], rows: list[list[str]], size: float) -> list[float] | None:
        """Column widths at `size`: fixed columns as wide as their widest cell (headers wrap at word breaks),
        the flex column the rest; None when the flex column would be narrower than its minimum."""
        widths: list[float] = []
        for i, col in enumerate(columns):
            if col.flex:
                widths.append(0.0)
                continue
            self.font(size)
            cells = max((self.string_width(r[i]) for r in rows), default=0.0)
            self.font(size, bold=True)
            word = max(self.string_width(w) for w in col.label.split())
            whole = self.string_width(col.label)
            # A header up to 8 mm wider than its cells widens the column; a longer one wraps at its word breaks.
            narrow = max(cells, word)
            widths.append(max(narrow, whole) if whole <= narrow + 8.0 else narrow)
        flex = self.right - MARGIN_X - sum(widths) - COLUMN_GAP * (len(columns) - 1)
        if flex < FLEX_MIN_MM:
            return None
        return [flex if col.flex else w for col, w in zip(columns, widths, strict=True)]

    def table(self, columns: list[_Column], rows: list[list[str]]) -> tuple[float, float]:
        """A table with measured columns and wrapping cells; its header repeats on every page it runs onto.
        Returns the left and right edge of its last column (for the summary lines under it)."""
        widths: list[float] | None = None
        for size in TABLE_SIZES:
            widths = self._table_widths(columns, rows, size)
            if widths is not None:
                break
        if widths is None:
            # Only with labels or cells far beyond the models' bounds: say so rather than overprint.
            raise ValidationFailed("a table's columns do not fit the page width", code="table_does_not_fit")
        lefts = [MARGIN_X + sum(widths[:i]) + COLUMN_GAP * i for i in range(len(columns))]
        step = size * MM_PER_PT * LEADING

        def cells(texts: list[str], bold: bool) -> list[list[str]]:
            self.font(size, bold=bold)
            return [self.wrap(t, w) if t else [""] for t, w in zip(texts, widths, strict=True)]

        def draw_row(wrapped: list[list[str]], bold: bool) -> None:
            self.font(size, bold=bold)
            base = self.y + size * MM_PER_PT
            for col, left, w, lines in zip(columns, lefts, widths, wrapped, strict=True):
                for i, s in enumerate(lines):
                    x = left + w - self.string_width(s) if col.align == "R" else left
                    self.text(x, base + i * step, s)
            self.y += max(len(lines) for lines in wrapped) * step

        header = cells([c.label for c in columns], bold=True)
        header_h = max(len(lines) for lines in header) * step + 2.5

        def draw_header() -> None:
            draw_row(header, bold=True)
            self.y += 0.5
            self.rule()

        first = cells(rows[0], bold=False) if rows else [[""]]
        self.need(header_h + max(len(lines) for lines in first) * step)
        draw_header()
        for row in rows:
            wrapped = cells(row, bold=False)
            if self.need(max(len(lines) for lines in wrapped) * step):
                draw_header()
            draw_row(wrapped, bold=False)
        self.y += 1.0
        self.rule()
        return lefts[-1], lefts[-1] + widths[-1]

    def summary(self, column: tuple[float, float], label: str, value: str, *, bold: bool = False) -> None:
        """A total under a table: the value right-aligned under the last column, its label right-aligned left
        of it (wrapping if it must)."""
        self.font(BODY_PT, bold=bold)
        value_w = self.string_width(value)
        label_right = min(column[0], self.right - value_w) - COLUMN_GAP
        labels = self.wrap(label, label_right - MARGIN_X)
        self.need(len(labels) * LINE_MM)
        base = self.y + BODY_PT * MM_PER_PT
        for i, s in enumerate(labels):
            self.text(label_right - self.string_width(s), base + i * LINE_MM, s)
        self.text(self.right - value_w, base, value)
        self.y += len(labels) * LINE_MM

    def fee(self, currency: str) -> Money | None:
        fee = self.request.paper_invoice_fee
        if fee is not None and fee.currency != currency:
            raise ValidationFailed(
                f"paper invoice fee is in {fee.currency} but the document is in {currency}",
                code="mixed_currencies",
                details={"fee_currency": fee.currency, "currency": currency},
            )
        return fee

    def invoice(self, invoice: Invoice) -> None:
        lang, cur, labels = self.lang, invoice.currency, self.labels
        totals = _Totals()
        rows: list[list[str]] = []
        for item in invoice.lines:
            net = _round(item.quantity * item.unit_price)
            totals.add(net, item.vat_rate)
            rows.append(
                [
                    item.description,
                    i18n.number(item.quantity, lang),
                    i18n.money(item.unit_price, cur, lang),
                    i18n.percent(item.vat_rate, lang),
                    i18n.money(net, cur, lang),
                ]
            )
        fee = self.fee(cur)
        if fee is not None:
            totals.add(_round(fee.amount), Decimal(0))
            amount = i18n.money(fee.amount, cur, lang)
            rows.append([labels["fee"], "1", amount, i18n.percent(Decimal(0), lang), amount])
        gross = totals.gross
        meta = [(labels["invoice_number"], invoice.number), (labels["issue_date"], i18n.day(invoice.issue_date, lang))]
        if invoice.supply_date:
            meta.append((labels["supply_date"], i18n.day(invoice.supply_date, lang)))
        meta.append((labels["due_date"], i18n.day(invoice.due_date, lang)))
        if invoice.buyer_vat_number:
            meta.append((labels["your_vat"], invoice.buyer_vat_number))
        if invoice.payment_reference:
            meta.append((labels["reference"], invoice.payment_reference))
        self.need((len(meta) + 5) * LINE_MM)  # the invoice's details start on the page its table starts on
        self.meta(meta)
        self.y += 2.0
        self.paragraph(
            i18n.INTROS[lang]["invoice"].format(
                amount=i18n.money(gross, cur, lang), due=i18n.day(invoice.due_date, lang)
            )
        )
        columns = [
            _Column(labels["description"], "L", flex=True),
            _Column(labels["quantity"], "R"),
            _Column(labels["unit_price"], "R"),
            _Column(labels["vat"], "R"),
            _Column(labels["amount"], "R"),
        ]
        last = self.table(columns, rows)
        self.need((len(totals.vat_by_rate) + 2) * LINE_MM)  # the totals stay together
        self.summary(last, labels["subtotal"], i18n.money(totals.net, cur, lang))
        for rate in sorted(totals.vat_by_rate):
            label = labels["vat_on"].format(
                rate=i18n.percent(rate, lang), base=i18n.money(totals.vat_by_rate[rate], cur, lang)
            )
            self.summary(last, label, i18n.money(totals.vat(rate), cur, lang))
        self.summary(last, labels["total"], i18n.money(gross, cur, lang), bold=True)
        if invoice.vat_exemption_reason and Decimal(0) in totals.vat_by_rate:
            self.y += 2.0
            self.paragraph(
                labels["vat_exempt"].format(rate=i18n.percent(Decimal(0), lang), reason=invoice.vat_exemption_reason)
            )
        self.y += 6.0

    def dunning(self) -> None:
        """Reminder, final notice and payment-plan reminder: open invoices with their days overdue, the total,
        the payment deadline and a payment QR (for a payment plan: the schedule and the instalment due)."""
        request, lang, labels = self.request, self.lang, self.labels
        invoices = request.invoices
        currencies = {inv.currency for inv in invoices}
        if len(currencies) > 1:
            raise ValidationFailed(
                "a reminder cannot mix currencies", code="mixed_currencies", details={"currencies": sorted(currencies)}
            )
        cur = (
            currencies.pop() if currencies else (request.paper_invoice_fee or Money(amount=0, currency="EUR")).currency
        )
        fee = self.fee(cur)
        total = sum((inv.open_amount for inv in invoices), Decimal(0)) + (fee.amount if fee else Decimal(0))
        today = request.document_date
        days = FINAL_NOTICE_DAYS if request.kind is DocumentKind.FINAL_NOTICE else REMINDER_DAYS
        deadline = today + timedelta(days=days)
        self.paragraph(
            i18n.INTROS[lang][request.kind.value].format(
                amount=i18n.money(total, cur, lang), deadline=i18n.day(deadline, lang, long=True)
            )
        )
        columns = [
            _Column(labels["invoice_number"], "L", flex=True),
            _Column(labels["issue_date"], "R"),
            _Column(labels["due_date"], "R"),
            _Column(labels["days_overdue"], "R"),
            _Column(labels["open_amount"], "R"),
        ]
        rows = [
            [
                inv.number,
                i18n.day(inv.issue_date, lang),
                i18n.day(inv.due_date, lang),
                i18n.days(max(0, (today - inv.due_date).days), lang),
                i18n.money(inv.open_amount, cur, lang),
            ]
            for inv in invoices
        ]
        last = self.table(columns, rows)
        if fee is not None:
            self.summary(last, labels["fee"], i18n.money(fee.amount, cur, lang))
        self.summary(last, labels["total_open"], i18n.money(total, cur, lang), bold=True)
        self.y += 3.0
        pay = total
        instalments = [(inv, i) for inv in invoices for i in inv.instalments]
        if request.kind is DocumentKind.PAYMENT_PLAN_REMINDER and instalments:
            self.schedule(instalments, cur)
            due, due_by = instalment_due([i for _, i in instalments], today)
            pay = sum((i.amount for i in due), Decimal(0))
            if due_by is not None:
                deadline = due_by
                self.paragraph(
                    labels["instalment_due"].format(
                        amount=i18n.money(pay, cur, lang), deadline=i18n.day(deadline, lang, long=True)
                    ),
                    bold=True,
                )
        elif request.kind is not DocumentKind.FINAL_NOTICE:
            self.paragraph(
                labels["deadline"].format(
                    amount=i18n.money(total, cur, lang), deadline=i18n.day(deadline, lang, long=True)
                )
            )
        self.paragraph(labels["disregard"])
        reference = _reference(invoices, labels)
        if reference:
            self.meta([(labels["reference"], reference)])
        self.y += 4.0
        if pay > 0:
            self.payment_qr(pay, cur, reference)

    def schedule(self, instalments: list[tuple[Invoice, Instalment]], currency: str) -> None:
        """The payment plan: every instalment with its due date, amount and whether it is paid."""
        lang, labels = self.lang, self.labels
        columns = [
            _Column(labels["invoice_number"], "L", flex=True),
            _Column(labels["instalment_due_date"], "R"),
            _Column(labels["instalment_amount"], "R"),
            _Column(labels["instalment_status"], "R"),
        ]
        rows = [
            [inv.number, i18n.day(i.due_date, lang), i18n.money(i.amount, currency, lang),
             labels["paid"] if i.paid else labels["open"]]
            for inv, i in sorted(instalments, key=lambda pair: pair[1].due_date)
        ]  # fmt: skip
        self.table(columns, rows)
        self.y += 3.0

    def payment_qr(self, amount: Decimal, currency: str, reference: str | None) -> None:
        branding = self.request.branding
        payload, caption = None, ""
        if currency == "EUR" and branding.iban:
            payload = epc_payload(
                name=branding.name, iban=branding.iban, bic=branding.bic, amount=amount, reference=reference
            )
            caption = self.labels["scan_epc"]
        if payload is None and branding.payment_portal_url:
            payload, caption = branding.payment_portal_url, self.labels["scan_portal"]
        if payload is None:
            return
        self.need(QR_MM + 2.0)
        x0, y0 = MARGIN_X, self.y
        self.pdf.image(BytesIO(qr_png(payload)), x=x0, y=y0, w=QR_MM, h=QR_MM)
        self.font(BODY_PT)
        for i, s in enumerate(self.wrap(caption, self.right - MARGIN_X - QR_MM - 6.0)):
            self.text(x0 + QR_MM + 6.0, y0 + 4.0 + i * LINE_MM, s)
        self.y = y0 + QR_MM + 2.0

    # -- every page ------------------------------------------------------------------------------------------

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


class _Pdf(FPDF):
    """An FPDF whose footer is drawn by the layout; fpdf2 calls `footer` as each page is finished."""

    def __init__(self, layout: _Page, *, paper: str) -> None:
        super().__init__(unit="mm", format="letter" if paper == "LETTER" else "A4")
        self.layout = layout

    def footer(self) -> None:
        self.layout.footer()


def _grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))

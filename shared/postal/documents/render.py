"""The document renderer: invoices, reminders and letters as print-ready PDFs for window envelopes (fpdf2).

Layout rules (address-geometry.md):
- the recipient address sits inside the window standard's address rectangle, drawn with `FPDF.text` at its
  baseline so no cell padding moves it (§4); the block shrinks to fit, down to 8 pt, or the render is refused;
- nothing is drawn in the zone's clear rectangles or in its border (on every page); the header, the body and the
  footer are placed around them;
- only the embedded DejaVu Sans (see `postal.documents.fonts`) is used, never a core font.

All positions are mm from the top-left corner; font sizes are pt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache
from io import BytesIO

from fpdf import FPDF
from pydantic import BaseModel, ConfigDict

from postal.documents import i18n
from postal.documents.fonts import FAMILY, FontOutputProducer, attach_fonts
from postal.documents.payment_qr import epc_payload, qr_png
from postal.documents.zones import MM_PER_PT, Rect, Zone, get_zone
from postal.errors import ValidationFailed
from postal.models import Address, Branding, Invoice, Language, Money

CENT = Decimal("0.01")
MARGIN_X = 20.0  # left/right body margin; also keeps text out of Pingen's 15 x 15 mm bottom-left square
ADDRESS_MAX_PT = 10.0
ADDRESS_MIN_PT = 8.0  # DIN 5008: type in the address zone is at least 8 pt
ADDRESS_LEADINGS = (1.25, 1.15, 1.05)  # line spacing as a multiple of the font size, loosest first
ADDRESS_INSET = 0.2  # mm kept free inside the window edges: fpdf2 rounds coordinates to 0.01 pt
DESCENT = 0.24  # DejaVu Sans descender depth, in em (hhea descent 483/2048)
RETURN_LINE_PT = 7.0
QR_MM = 28.0
BODY_PT = 9.5
LINE_MM = BODY_PT * MM_PER_PT * 1.35


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

    Raises `NotFound` for an unknown zone id and `ValidationFailed` (`address_does_not_fit`, `mixed_currencies`)
    when the document cannot be laid out correctly.
    """
    zone = get_zone(request.zone_id)
    page = _Page(request, zone)
    page.first_page()
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


def _postal_line(address: Address) -> str:
    if address.country in {"US", "CA"}:
        region = f" {address.region}" if address.region else ""
        return f"{address.city},{region} {address.postal_code or ''}".rstrip()
    return f"{address.postal_code} {address.city}" if address.postal_code else address.city


def address_lines(recipient: Address, sender_country: str | None, language: Language) -> list[str]:
    """The recipient block, top to bottom; the country line only for mail abroad (or an unknown sender country)."""
    lines = [recipient.company] if recipient.company else []
    lines += [recipient.name, *recipient.lines, _postal_line(recipient)]
    if recipient.country != sender_country:
        lines.append(i18n.country_name(recipient.country, language))
    return lines


@lru_cache(maxsize=32)
def _logo_png(logo_base64: str) -> bytes:
    # Decoded once per distinct logo: orgs send the same logo with every letter.
    try:
        return base64.b64decode(logo_base64, validate=True)
    except binascii.Error as exc:
        raise ValidationFailed("branding logo is not valid base64", code="invalid_logo") from exc


# ---------------------------------------------------------------------------------------------------------------
# Layout.


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
        self.footer_top = self.height - self.edge - 2 * 3.5
        pdf = _Pdf(self, paper=zone.paper)
        pdf.set_auto_page_break(False)  # pages are broken here, so the footer band always stays empty
        pdf.set_creator("Postal Comms")
        # Same input, same bytes (and sha256): the creation date is the document date, not the wall clock.
        pdf.set_creation_date(datetime.combine(request.document_date, time(), tzinfo=UTC))
        attach_fonts(pdf)
        self.pdf = pdf
        self.y = 0.0

    # -- primitives ------------------------------------------------------------------------------------------

    def font(self, size: float, *, bold: bool = False) -> None:
        self.pdf.set_font(FAMILY, "B" if bold else "", size)

    def text(self, x: float, baseline: float, s: str) -> None:
        self.pdf.text(x, baseline, s)

    def string_width(self, s: str) -> float:
        """Width of `s` in mm at the current font: fpdf2's own sum of glyph advances (`cw`), without its per-call
        text-shaping pipeline, which costs more than the letter's layout. Exact as long as nothing stretches or
        spaces characters, which this renderer never does."""
        pdf = self.pdf
        cw: dict[int, float] = pdf.current_font.cw  # type: ignore[union-attr,assignment]  # always a TTFFont here
        return float(sum(cw[ord(c)] for c in s)) * pdf.font_size_pt * 0.001 / pdf.k

    def text_right(self, x_right: float, baseline: float, s: str) -> None:
        self.pdf.text(x_right - self.string_width(s), baseline, s)

    def new_page(self) -> None:
        self.pdf.add_page()
        self.y = self.edge + 10.0

    def need(self, height: float) -> None:
        """Start a new page unless `height` mm still fit above the footer."""
        if self.y + height > self.footer_top - 4.0:
            self.new_page()

    def line(self, s: str, *, size: float = BODY_PT, bold: bool = False, x: float = MARGIN_X) -> None:
        self.need(LINE_MM)
        self.font(size, bold=bold)
        self.y += size * MM_PER_PT
        self.text(x, self.y, s)
        self.y += LINE_MM - size * MM_PER_PT

    def wrap(self, s: str, width: float) -> list[str]:
        """Greedy word wrap at the current font; a single over-long word is cut."""
        lines: list[str] = []
        for paragraph in s.splitlines() or [""]:
            current = ""
            for word in paragraph.split():
                candidate = f"{current} {word}" if current else word
                if self.string_width(candidate) <= width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                rest = word
                while self.string_width(rest) > width:
                    cut = len(rest) - 1
                    while cut > 1 and self.string_width(rest[:cut]) > width:
                        cut -= 1
                    lines.append(rest[:cut])
                    rest = rest[cut:]
                current = rest
            lines.append(current)
        return lines

    def paragraph(self, s: str) -> None:
        self.font(BODY_PT)
        for text in self.wrap(s, self.right - MARGIN_X):
            self.line(text)
        self.y += 2.0

    # -- page 1 ----------------------------------------------------------------------------------------------

    def _blocked(self) -> list[Rect]:
        zone = self.zone
        return [zone.address, *([zone.return_line] if zone.return_line else []), *zone.clear.values()]

    def first_page(self) -> None:
        self.pdf.add_page()
        self.header()
        self.return_line()
        self.address()
        # The body starts below everything the window standard reserves in the top half of page 1 (the bottom
        # half only has footer-level zones such as Pingen's bottom-left square, which the margins avoid).
        top_half = [r.y1 for r in self._blocked() if r.y0 < self.height / 2]
        self.y = max([*top_half, self.zone.body_min_y or 0.0]) + 8.0
        title = i18n.TITLES[self.lang].get(self.request.kind.value)
        if title:
            self.line(title, size=14, bold=True)
            self.y += 1.0
        self.line(f"{self.labels['date']}: {i18n.day(self.request.document_date, self.lang, long=True)}")
        self.y += 3.0

    def header(self) -> None:
        """Logo and organisation name at the top right, above anything the window standard reserves there."""
        top = self.edge + 2.0
        left = self.width / 2 + 5.0
        column = Rect(left, self.right, top, self.height)
        limit = min([r.y0 for r in self._blocked() if r.overlaps(column)] + [self.height / 3]) - 2.0
        branding = self.request.branding
        y = top
        if branding.logo_png_base64:
            logo_h = min(14.0, limit - y - 6.0)
            if logo_h > 4.0:
                self.pdf.image(
                    BytesIO(_logo_png(branding.logo_png_base64)), x=left, y=y, h=logo_h, keep_aspect_ratio=True
                )
                y += logo_h + 1.5
        rows: list[tuple[str, float, bool]] = [(branding.name, 12.0, True)]
        sender = branding.sender_address
        if sender:
            rows += [(s, 8.0, False) for s in (*sender.lines, _postal_line(sender))]
        for s, size, bold in rows:
            baseline = y + size * MM_PER_PT
            if baseline + DESCENT * size * MM_PER_PT > limit:
                break
            self.font(size, bold=bold)
            self.text(left, baseline, self._fit(s, self.right - left))
            y = baseline + size * MM_PER_PT * 0.45

    def _fit(self, s: str, width: float) -> str:
        """`s` cut with an ellipsis to `width` at the current font."""
        if self.string_width(s) <= width:
            return s
        while s and self.string_width(s + "…") > width:
            s = s[:-1]
        return s + "…"

    def return_line(self) -> None:
        """The sender's one-line return address at the bottom of the zone's return/remark area (DIN 5008)."""
        rect = self.zone.return_line
        sender = self.request.branding.sender_address
        if rect is None or sender is None:
            return
        s = " · ".join([self.request.branding.name, *sender.lines, _postal_line(sender)])
        self.font(RETURN_LINE_PT)
        x = self.zone.text_x
        s = self._fit(s, rect.x1 - x)
        self.text(x, rect.y1 - 1.5, s)

    def address(self) -> None:
        zone = self.zone
        rect = zone.address
        sender = self.request.branding.sender_address
        lines = address_lines(self.request.recipient, sender.country if sender else None, self.lang)
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
                    for i, s in enumerate(lines):
                        self.text(zone.text_x, first + i * step, s)
                    return
        raise ValidationFailed(
            f"the recipient address does not fit the {zone.id} window ({width:.1f} x {rect.y1 - rect.y0:.1f} mm)"
            f" even at {ADDRESS_MIN_PT:g} pt",
            code="address_does_not_fit",
            details={"zone_id": zone.id, "lines": len(lines)},
            fix="shorten the address lines (abbreviate the street or company name) or drop the company line",
        )

    # -- content ---------------------------------------------------------------------------------------------

    def meta(self, rows: list[tuple[str, str]]) -> None:
        for label, value in rows:
            self.need(LINE_MM)
            self.font(BODY_PT)
            self.y += BODY_PT * MM_PER_PT
            self.text(MARGIN_X, self.y, f"{label}:")
            self.text(MARGIN_X + 45.0, self.y, value)
            self.y += LINE_MM - BODY_PT * MM_PER_PT

    def rule(self) -> None:
        self.pdf.set_line_width(0.2)
        self.pdf.line(MARGIN_X, self.y, self.right, self.y)
        self.y += 1.0

    def _columns(self) -> tuple[float, float, float, float]:
        """Right edges of quantity, unit price, VAT and amount columns."""
        r = self.right
        return r - 88.0, r - 55.0, r - 35.0, r

    def table_header(self) -> None:
        q, u, v, a = self._columns()
        self.need(2 * LINE_MM)
        self.font(BODY_PT, bold=True)
        self.y += BODY_PT * MM_PER_PT
        self.text(MARGIN_X, self.y, self.labels["description"])
        for x, key in ((q, "quantity"), (u, "unit_price"), (v, "vat"), (a, "amount")):
            self.text_right(x, self.y, self.labels[key])
        self.y += 1.5
        self.rule()

    def table_row(self, description: str, cells: tuple[str, str, str, str]) -> None:
        q, *_ = self._columns()
        self.font(BODY_PT)
        wrapped = self.wrap(description, q - 18.0 - MARGIN_X)
        if self.y + len(wrapped) * LINE_MM > self.footer_top - 4.0:
            self.new_page()
            self.table_header()
            self.font(BODY_PT)
        self.y += BODY_PT * MM_PER_PT
        for x, s in zip(self._columns(), cells, strict=True):
            self.text_right(x, self.y, s)
        for i, s in enumerate(wrapped):
            self.text(MARGIN_X, self.y + i * LINE_MM, s)
        self.y += len(wrapped) * LINE_MM - BODY_PT * MM_PER_PT

    def summary(self, label: str, value: str, *, bold: bool = False) -> None:
        self.need(LINE_MM)
        self.font(BODY_PT, bold=bold)
        self.y += BODY_PT * MM_PER_PT
        self.text_right(self._columns()[2], self.y, label)
        self.text_right(self.right, self.y, value)
        self.y += LINE_MM - BODY_PT * MM_PER_PT

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
        lang, cur = self.lang, invoice.currency
        totals = _Totals()
        rows: list[tuple[str, tuple[str, str, str, str]]] = []
        for item in invoice.lines:
            net = _round(item.quantity * item.unit_price)
            totals.add(net, item.vat_rate)
            rows.append(
                (
                    item.description,
                    (
                        i18n.number(item.quantity, lang),
                        i18n.money(item.unit_price, cur, lang),
                        i18n.percent(item.vat_rate, lang),
                        i18n.money(net, cur, lang),
                    ),
                )
            )
        fee = self.fee(cur)
        if fee is not None:
            totals.add(_round(fee.amount), Decimal(0))
            amount = i18n.money(fee.amount, cur, lang)
            rows.append((self.labels["fee"], ("1", amount, i18n.percent(Decimal(0), lang), amount)))
        gross = totals.gross
        self.meta(
            [
                (self.labels["invoice_number"], invoice.number),
                (self.labels["issue_date"], i18n.day(invoice.issue_date, lang)),
                (self.labels["due_date"], i18n.day(invoice.due_date, lang)),
                *([(self.labels["reference"], invoice.payment_reference)] if invoice.payment_reference else []),
            ]
        )
        self.y += 2.0
        self.paragraph(
            i18n.INTROS[lang]["invoice"].format(
                amount=i18n.money(gross, cur, lang), due=i18n.day(invoice.due_date, lang)
            )
        )
        self.table_header()
        for description, cells in rows:
            self.table_row(description, cells)
        self.y += 1.0
        self.rule()
        self.summary(self.labels["subtotal"], i18n.money(totals.net, cur, lang))
        for rate in sorted(totals.vat_by_rate):
            label = self.labels["vat_on"].format(
                rate=i18n.percent(rate, lang), base=i18n.money(totals.vat_by_rate[rate], cur, lang)
            )
            self.summary(label, i18n.money(totals.vat(rate), cur, lang))
        self.summary(self.labels["total"], i18n.money(gross, cur, lang), bold=True)
        self.y += 6.0

    def dunning(self) -> None:
        """Reminder, final notice and payment-plan reminder: open invoices, the total to pay and a payment QR."""
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
        self.paragraph(i18n.INTROS[lang][request.kind.value].format(amount=i18n.money(total, cur, lang)))
        q, u, v, a = self._columns()
        self.need(2 * LINE_MM)
        self.font(BODY_PT, bold=True)
        self.y += BODY_PT * MM_PER_PT
        self.text(MARGIN_X, self.y, labels["invoice_number"])
        self.text_right(u, self.y, labels["issue_date"])
        self.text_right(v + 10.0, self.y, labels["due_date"])
        self.text_right(a, self.y, labels["open_amount"])
        self.y += 1.5
        self.rule()
        self.font(BODY_PT)
        for inv in invoices:
            self.need(LINE_MM)
            self.y += BODY_PT * MM_PER_PT
            self.text(MARGIN_X, self.y, self._fit(inv.number, q - MARGIN_X))
            self.text_right(u, self.y, i18n.day(inv.issue_date, lang))
            self.text_right(v + 10.0, self.y, i18n.day(inv.due_date, lang))
            self.text_right(a, self.y, i18n.money(inv.open_amount, cur, lang))
            self.y += LINE_MM - BODY_PT * MM_PER_PT
        if fee is not None:
            self.summary(labels["fee"], i18n.money(fee.amount, cur, lang))
        self.y += 1.0
        self.rule()
        self.summary(labels["total_open"], i18n.money(total, cur, lang), bold=True)
        reference = _reference(invoices)
        if reference:
            self.y += 2.0
            self.meta([(labels["reference"], reference)])
        self.y += 4.0
        self.payment_qr(total, cur, reference)

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

    def footer(self) -> None:
        """Bank details and page number, above the border and right of Pingen's bottom-left square."""
        branding = self.request.branding
        parts = [branding.name]
        if branding.iban:
            parts.append(f"IBAN {_grouped(branding.iban)}")
        if branding.bic:
            parts.append(f"BIC {branding.bic}")
        baseline = self.footer_top + 7.0 * MM_PER_PT
        width = self.right - MARGIN_X - 30.0
        self.font(7.0)
        self.text(MARGIN_X, baseline, self._fit(" · ".join(parts), width))
        if branding.footer:
            self.text(MARGIN_X, baseline + 3.5, self._fit(branding.footer, width))
        # fpdf2 replaces "{nb}" with the page count when the document is written (in cells, not in `text`).
        page_label = self.labels["page"].format(page=self.pdf.page_no(), pages="{nb}")
        self.pdf.set_xy(self.right - 30.0, baseline - 7.0 * MM_PER_PT)
        self.pdf.cell(30.0, 7.0 * MM_PER_PT, page_label, align="R")


class _Pdf(FPDF):
    """An FPDF whose footer is drawn by the layout; fpdf2 calls `footer` as each page is finished."""

    def __init__(self, layout: _Page, *, paper: str) -> None:
        super().__init__(unit="mm", format="letter" if paper == "LETTER" else "A4")
        self.layout = layout

    def footer(self) -> None:
        self.layout.footer()


def _grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _reference(invoices: list[Invoice]) -> str | None:
    """The payment reference of a single invoice, else the invoice numbers (fits the EPC remittance field)."""
    if len(invoices) == 1 and invoices[0].payment_reference:
        return invoices[0].payment_reference
    numbers = ", ".join(inv.number for inv in invoices)
    return numbers[:140] or None

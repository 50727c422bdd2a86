"""The documents: an invoice, a dunning letter (reminder, final notice, payment plan), the payment QR; and
`render_document`, the one entry point."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

from postal.documents import i18n
from postal.documents.address_format import format_address
from postal.documents.fonts import FontOutputProducer
from postal.documents.payment_qr import epc_payload, qr_png
from postal.documents.render.layout import _Column
from postal.documents.render.request import (
    BODY_PT,
    DUNNING_KINDS,
    FINAL_NOTICE_DAYS,
    LINE_MM,
    MARGIN_X,
    QR_MM,
    REMINDER_DAYS,
    DocumentKind,
    DocumentRequest,
    RenderedDocument,
    _reference,
    _round,
    _Totals,
    instalment_due,
)
from postal.documents.render.tables import _Tables
from postal.documents.zones import get_zone
from postal.errors import ValidationFailed
from postal.models import Instalment, Invoice, Money


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


class _Page(_Tables):
    """A whole document: page 1, then the invoice or dunning content, then the body text."""

    def invoice(self, invoice: Invoice) -> None:
        lang, cur, labels = self.lang, invoice.currency, self.labels
        totals, rows = self._invoice_rows(invoice)
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
        self._invoice_totals(invoice, totals, self.table(columns, rows))

    def _invoice_rows(self, invoice: Invoice) -> tuple[_Totals, list[list[str]]]:
        """The invoice's table rows (the paper-invoice fee last) and their totals."""
        lang, cur = self.lang, invoice.currency
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
            rows.append([self.labels["fee"], "1", amount, i18n.percent(Decimal(0), lang), amount])
        return totals, rows

    def _invoice_totals(self, invoice: Invoice, totals: _Totals, last: tuple[float, float]) -> None:
        """Subtotal, VAT per rate, total (kept together), and the reason for 0 % VAT."""
        lang, cur, labels = self.lang, invoice.currency, self.labels
        self.need((len(totals.vat_by_rate) + 2) * LINE_MM)  # the totals stay together
        self.summary(last, labels["subtotal"], i18n.money(totals.net, cur, lang))
        for rate in sorted(totals.vat_by_rate):
            label = labels["vat_on"].format(
                rate=i18n.percent(rate, lang), base=i18n.money(totals.vat_by_rate[rate], cur, lang)
            )
            self.summary(last, label, i18n.money(totals.vat(rate), cur, lang))
        self.summary(last, labels["total"], i18n.money(totals.gross, cur, lang), bold=True)
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
        cur = self._dunning_currency()
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
        self._dunning_payment(cur, total, deadline)

    def _dunning_currency(self) -> str:
        """The one currency of the invoices (a reminder cannot mix them); the fee's, or EUR, without invoices."""
        request = self.request
        currencies = {inv.currency for inv in request.invoices}
        if len(currencies) > 1:
            raise ValidationFailed(
                "a reminder cannot mix currencies", code="mixed_currencies", details={"currencies": sorted(currencies)}
            )
        return (
            currencies.pop() if currencies else (request.paper_invoice_fee or Money(amount=0, currency="EUR")).currency
        )

    def _dunning_payment(self, cur: str, total: Decimal, deadline: date) -> None:
        """What to pay by when (for a payment plan: the schedule and the instalment due), the reference, the QR."""
        request, lang, labels = self.request, self.lang, self.labels
        invoices = request.invoices
        pay = total
        instalments = [(inv, i) for inv in invoices for i in inv.instalments]
        if request.kind is DocumentKind.PAYMENT_PLAN_REMINDER and instalments:
            self.schedule(instalments, cur)
            due, due_by = instalment_due([i for _, i in instalments], request.document_date)
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

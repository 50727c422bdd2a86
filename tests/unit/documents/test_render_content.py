"""What a professional invoice and reminder say (read back from the PDF), and how the sender block and the return
line fit every window standard."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

import pdfplumber
import pypdf
import pytest
from PIL import Image
from pydantic import ValidationError

from local.samples import LONG_BRANDING, longest_request, sample_request
from postal.documents import i18n
from postal.documents.payment_qr import epc_payload, qr_png
from postal.documents.render import (
    FINAL_NOTICE_DAYS,
    MARGIN_X,
    REMINDER_DAYS,
    DocumentKind,
    DocumentRequest,
    RenderedDocument,
    instalment_due,
    render_document,
)
from postal.documents.zones import MM_PER_PT, Rect, get_zone, zone_ids
from postal.errors import ValidationFailed
from postal.models import Address, Branding, Instalment, Invoice, InvoiceIn, Language
from tests.unit.documents.test_render_reading import blocks, normalised, text_lines

TODAY = date(2026, 3, 2)


def page_texts(doc: RenderedDocument) -> list[str]:
    """Each page's text, line by line (a table row, a label and its value read as one line)."""
    with pdfplumber.open(BytesIO(doc.pdf)) as pdf:
        return ["\n".join(normalised(line) for line in text_lines(page)) for page in pdf.pages]


def request(kind: DocumentKind, language: Language = Language.EN, **kw: Any) -> DocumentRequest:
    return sample_request(kind, language).model_copy(update=kw)


def test_invoice_carries_both_vat_numbers_customer_number_supply_date_contact_and_the_zero_vat_reason() -> None:
    req = request(DocumentKind.INVOICE)
    invoice, branding = req.invoices[0], req.branding
    first = page_texts(render_document(req))[0]
    for label, value in [
        ("Our VAT number", branding.vat_number), ("Your VAT number", invoice.buyer_vat_number),
        ("Customer number", invoice.customer_number), ("Date of supply", i18n.day(invoice.supply_date, Language.EN)),  # type: ignore[arg-type]
        ("Contact", branding.contact_name), ("Phone", branding.contact_phone), ("E-mail", branding.contact_email),
    ]:  # fmt: skip
        assert normalised(f"{label}: {value}") in first, label
    whole = " ".join(page_texts(render_document(req)))
    assert normalised(f"VAT 0%: {invoice.vat_exemption_reason}") in whole


def test_zero_vat_reason_is_printed_only_with_a_zero_vat_line() -> None:
    req = request(DocumentKind.INVOICE)
    invoice = req.invoices[0]
    all_taxed = invoice.model_copy(update={"lines": [line.model_copy(update={"vat_rate": Decimal(21)})
                                                     for line in invoice.lines]})  # fmt: skip
    text = " ".join(page_texts(render_document(req.model_copy(update={"invoices": [all_taxed]}))))
    assert normalised(invoice.vat_exemption_reason or "") not in text


def test_continuation_pages_repeat_a_running_header_and_the_table_header() -> None:
    req = request(DocumentKind.INVOICE)
    pages = page_texts(render_document(req))
    assert len(pages) > 1
    for text in pages[1:]:
        assert normalised(f"Invoice · {req.recipient.company} · 2 Mar 2026") in text
        assert normalised("Description Qty Unit price VAT Amount") in text
    reminder = render_document(longest_request(DocumentKind.REMINDER, Language.DE, "pingen-left"))
    for text in page_texts(reminder):
        assert normalised("Rechnungsnummer Rechnungsdatum Fällig am Tage Offener Betrag") in text


@pytest.mark.parametrize("language", list(Language))
def test_reminder_gives_days_overdue_an_absolute_deadline_and_a_disregard_line(language: Language) -> None:
    req = request(DocumentKind.REMINDER, language)
    text = page_texts(render_document(req))[0]
    labels = i18n.LABELS[language]
    for invoice in req.invoices:
        overdue = (req.document_date - invoice.due_date).days
        row = f"{invoice.number} {i18n.day(invoice.issue_date, language)} {i18n.day(invoice.due_date, language)}"
        assert normalised(f"{row} {overdue} {i18n.money(invoice.open_amount, 'EUR', language)}") in text
    deadline = i18n.day(req.document_date + timedelta(days=REMINDER_DAYS), language, long=True)
    total = i18n.money(sum((i.open_amount for i in req.invoices), Decimal(0)), "EUR", language)
    assert normalised(labels["deadline"].format(amount=total, deadline=deadline)) in text
    assert normalised(labels["disregard"]) in text


def test_final_notice_names_its_deadline_as_a_date() -> None:
    with pdfplumber.open(BytesIO(render_document(request(DocumentKind.FINAL_NOTICE, Language.DE)).pdf)) as pdf:
        text = normalised(" ".join(blocks(pdf.pages[0])))  # the sentence wraps: read it as a paragraph
    assert normalised(f"bis zum {i18n.day(TODAY + timedelta(days=FINAL_NOTICE_DAYS), Language.DE, long=True)}") in text
    assert "8 tagen" not in text


@pytest.mark.parametrize("zone_id", zone_ids())
def test_payment_reference_of_eight_invoices_wraps_inside_the_margins(zone_id: str) -> None:
    req = request(DocumentKind.REMINDER, zone_id=zone_id)
    invoices = [inv.model_copy(update={"number": f"INV-2026-{n:06d}", "invoice_id": f"i{n}"})
                for n, inv in enumerate(req.invoices * 2)][:8]  # fmt: skip
    doc = render_document(req.model_copy(update={"invoices": invoices}))
    reference = ", ".join(inv.number for inv in invoices)
    width = get_zone(zone_id).page_mm[0]
    with pdfplumber.open(BytesIO(doc.pdf)) as pdf:
        page = pdf.pages[0]
        assert normalised(f"Payment reference: {reference}") in normalised("\n".join(blocks(page)))
        reference_chars = [c for c in page.chars if c["top"] * MM_PER_PT > 100]
        assert max(c["x1"] for c in reference_chars) * MM_PER_PT <= width - MARGIN_X + 0.01


def _qr_pixels(doc: RenderedDocument) -> bytes:
    page = pypdf.PdfReader(BytesIO(doc.pdf)).pages[0]
    (image,) = [i for i in page.images if i.image is not None and i.image.mode == "1"]  # the logo is in colour
    assert image.image is not None
    return image.image.convert("1").tobytes()


def test_payment_plan_reminder_lists_the_schedule_and_its_qr_asks_for_the_instalment_due() -> None:
    req = request(DocumentKind.PAYMENT_PLAN_REMINDER)
    (invoice,) = req.invoices
    doc = render_document(req)
    text = page_texts(doc)[0]
    for inst in invoice.instalments:
        status = "paid" if inst.paid else "open"
        row = f"{invoice.number} {i18n.day(inst.due_date, Language.EN)} {i18n.money(inst.amount, 'EUR', Language.EN)}"
        assert normalised(f"{row} {status}") in text
    due, _ = instalment_due(invoice.instalments, req.document_date)
    amount = sum((i.amount for i in due), Decimal(0))
    assert amount < invoice.open_amount
    branding = req.branding
    payload = epc_payload(name=branding.name, iban=branding.iban or "", bic=branding.bic, amount=amount,
                          reference=invoice.payment_reference)  # fmt: skip
    assert payload is not None and f"EUR{amount}" in payload
    expected = Image.open(BytesIO(qr_png(payload))).convert("1").tobytes()  # segno's code for that payload
    assert _qr_pixels(doc) == expected


def test_instalment_due_is_every_overdue_open_instalment_else_the_next_one() -> None:
    def inst(day: int, paid: bool = False) -> Instalment:
        return Instalment(due_date=TODAY + timedelta(days=day), amount=Decimal("100.00"), paid=paid)

    overdue, by = instalment_due([inst(-40, paid=True), inst(-10), inst(-1), inst(20)], TODAY)
    assert [i.due_date for i in overdue] == [TODAY - timedelta(days=10), TODAY - timedelta(days=1)]
    assert by == TODAY + timedelta(days=REMINDER_DAYS)
    nxt, by = instalment_due([inst(-40, paid=True), inst(20), inst(50)], TODAY)
    assert [i.due_date for i in nxt] == [TODAY + timedelta(days=20)] and by == TODAY + timedelta(days=20)
    assert instalment_due([inst(-5, paid=True)], TODAY) == ([], None)


def _return_line(doc: RenderedDocument, zone_id: str) -> tuple[str, set[float]]:
    """The text in the return-line zone and its font sizes."""
    rect = get_zone(zone_id).return_line
    assert rect is not None
    with pdfplumber.open(BytesIO(doc.pdf)) as pdf:
        boxes = [
            (c, Rect(*(v * MM_PER_PT for v in (c["x0"], c["x1"], c["top"], c["bottom"])))) for c in pdf.pages[0].chars
        ]
        chars = [c for c, box in boxes if rect.contains(box)]
        return normalised(pdfplumber.utils.extract_text(chars)), {round(c["size"], 1) for c in chars}


def _with_sender(name: str, street: str, zone_id: str) -> DocumentRequest:
    sender = Address(name=name, lines=[street], postal_code="69007", city="Lyon", country="FR")
    branding = Branding(name=name, sender_address=sender)
    return request(DocumentKind.LETTER, branding=branding, invoices=[], body="Bonjour.", zone_id=zone_id)


@pytest.mark.parametrize("zone_id", ["din5008-a", "din5008-b"])
def test_return_line_shrinks_then_abbreviates_the_country_then_drops_the_street(zone_id: str) -> None:
    """DIN 5008 return zone, 80 mm from the 25 mm line: 7 pt, 6.5, 6; then "FR"; then no street."""
    cases = [
        ("Zéphyr SARL", "12 rue Haute", "Zéphyr SARL · 12 rue Haute · 69007 LYON · FRANCE", 7.0),
        ("Zéphyr Logistique SARL", "12 rue de la Convention",
         "Zéphyr Logistique SARL · 12 rue de la Convention · 69007 LYON · FRANCE", 6.0),
        ("Zéphyr Logistique & Services SARL", "12 rue de la Paix",
         "Zéphyr Logistique & Services SARL · 12 rue de la Paix · 69007 LYON · FR", 6.0),
        (LONG_BRANDING.name, "Zone Industrielle des Hauts-de-Seine Nord", f"{LONG_BRANDING.name} · 69007 LYON · FR",
         6.0),
    ]  # fmt: skip
    for name, street, expected, size in cases:
        text, sizes = _return_line(render_document(_with_sender(name, street, zone_id)), zone_id)
        assert text == normalised(expected)
        assert sizes == {size}, (name, sizes)


@pytest.mark.parametrize("zone_id", zone_ids())
def test_sender_block_with_country_abroad_fits_every_standard_and_never_sits_on_the_window(zone_id: str) -> None:
    zone = get_zone(zone_id)
    req = longest_request(DocumentKind.REMINDER, Language.EN, zone_id)
    sender = req.branding.sender_address
    assert sender is not None
    with pdfplumber.open(BytesIO(render_document(req).pdf)) as pdf:
        page = pdf.pages[0]
        text = normalised("\n".join(blocks(page)))
        block = normalised(f"{req.branding.name} {' '.join(sender.lines)} 92230 GENNEVILLIERS FRANCE")
        assert block in text
        tops = sorted(c["top"] for c in page.chars if c["text"] == "Z" and c["size"] > 8.5)
    column = [c for c in page.chars if abs(c["top"] - tops[0]) < 0.1]  # the first line of the bold name
    x0, x1 = min(c["x0"] for c in column) * MM_PER_PT, max(c["x1"] for c in column) * MM_PER_PT
    # NF Z 11-001: the recipient window is at the top right; the sender goes left so it cannot read as the sender
    assert not (zone.address.x0 < x1 and x0 < zone.address.x1), (zone_id, x0, x1)


def test_domestic_letter_gives_no_sender_country() -> None:
    req = request(DocumentKind.REMINDER, Language.NL)  # Rotterdam to Utrecht
    assert "nederland" not in page_texts(render_document(req))[0]


def test_address_that_does_not_fit_the_window_names_the_line_before_rendering() -> None:
    req = request(DocumentKind.REMINDER, zone_id="din5008-b")
    recipient = req.recipient.model_copy(update={"name": LONG_BRANDING.name})  # 60 characters: 90 mm at 8 pt
    with pytest.raises(ValidationFailed) as exc:
        render_document(req.model_copy(update={"recipient": recipient}))
    assert exc.value.code == "address_does_not_fit"
    assert exc.value.details["line"] == 1  # type: ignore[index]  # GB format: the person first
    assert exc.value.details["problem"] == "line_too_wide"  # type: ignore[index]


def test_every_language_has_every_label() -> None:
    keys = set(i18n.LABELS[Language.EN])
    for language in Language:
        assert set(i18n.LABELS[language]) == keys, language
        assert set(i18n.INTROS[language]) == set(i18n.INTROS[Language.EN])
        assert set(i18n.TITLES[language]) == set(i18n.TITLES[Language.EN])


@pytest.mark.parametrize(
    "bad",
    [{"instalments": [{"due_date": "2026-04-01", "amount": "-1.00"}]},
     {"instalments": [{"due_date": "2026-04-01", "amount": "1.005"}]},
     {"customer_number": "x" * 33}, {"buyer_vat_number": "123"}, {"vat_exemption_reason": "x" * 201},
     {"instalments": [{"due_date": "2026-04-01", "amount": "1.00"}] * 61}],
)  # fmt: skip
def test_new_invoice_fields_are_bounded(bad: dict[str, object]) -> None:
    base = {"customer_id": "c", "number": "1", "issue_date": "2026-01-01", "due_date": "2026-02-01",
            "open_amount": "1.00"}  # fmt: skip
    InvoiceIn.model_validate(base)
    with pytest.raises(ValidationError):
        InvoiceIn.model_validate({**base, **bad})


@pytest.mark.parametrize(
    "bad", [{"vat_number": "1"}, {"contact_name": "x" * 61}, {"contact_phone": "call me"}, {"contact_email": "nope"}]
)
def test_new_branding_fields_are_bounded(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Branding.model_validate({"name": "X", **bad})


def test_invoice_model_keeps_instalments_for_rendering() -> None:
    invoice = Invoice.model_validate(
        {"invoice_id": "i", "customer_id": "c", "number": "1", "issue_date": "2026-01-01", "due_date": "2026-02-01",
         "open_amount": "2.00", "instalments": [{"due_date": "2026-04-01", "amount": "1.00", "paid": True}]}
    )  # fmt: skip
    assert invoice.instalments[0].paid is True


def _png(width: int, height: int) -> str:
    import base64

    out = BytesIO()
    Image.new("RGB", (width, height), (20, 60, 140)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize("zone_id", zone_ids())
@pytest.mark.parametrize("size", [(400, 20), (200, 200), (20, 200)])
def test_logo_of_any_shape_stays_in_the_sender_column_clear_of_text_and_the_window(
    zone_id: str, size: tuple[int, int]
) -> None:
    zone = get_zone(zone_id)
    branding = LONG_BRANDING.model_copy(update={"logo_png_base64": _png(*size)})
    doc = render_document(longest_request(DocumentKind.REMINDER, Language.FR, zone_id).model_copy(
        update={"branding": branding}))  # fmt: skip
    with pdfplumber.open(BytesIO(doc.pdf)) as pdf:
        page = pdf.pages[0]
        logos = [i for i in page.images if i["srcsize"] == size]
        assert len(logos) == 1
        logo = logos[0]
        box = Rect(logo["x0"] * MM_PER_PT, logo["x1"] * MM_PER_PT, logo["top"] * MM_PER_PT, logo["bottom"] * MM_PER_PT)
        assert box.x0 >= MARGIN_X - 0.01 and box.x1 <= zone.page_mm[0] - MARGIN_X + 0.01, box
        assert abs((box.x1 - box.x0) / (box.y1 - box.y0) - size[0] / size[1]) < 0.01  # not distorted
        for rect in [zone.address, *([zone.return_line] if zone.return_line else []), *zone.clear.values()]:
            assert not rect.overlaps(box), (zone_id, rect, box)
        for c in page.chars:
            glyph = Rect(c["x0"] * MM_PER_PT, c["x1"] * MM_PER_PT, c["top"] * MM_PER_PT, c["bottom"] * MM_PER_PT)
            assert not box.overlaps(glyph), (c["text"], glyph, box)


def test_logo_that_is_not_a_png_is_refused() -> None:
    branding = LONG_BRANDING.model_copy(update={"logo_png_base64": "bm90IGEgcG5n"})  # base64 of "not a png"
    with pytest.raises(ValidationFailed) as exc:
        render_document(request(DocumentKind.REMINDER, branding=branding))
    assert exc.value.code == "invalid_logo"

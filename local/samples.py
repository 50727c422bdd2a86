"""`make samples`: page PNGs of one sample document per kind and language under `docs/samples/`.

    .venv/bin/python -m local.samples [out_dir]

Each language has its own realistic sender and recipient (so the samples show the destination post's address
rules and the window standard an org in that country would use). `longest_request` builds the longest realistic
documents the reading tests render for every window standard: 40 invoices, 60-character names, 7-line addresses.
Pages are rasterised with pdfium (pypdfium2) at a low resolution and stored as 16-colour PNGs to keep them small.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pypdfium2
from PIL import Image

from postal.documents.render import DocumentKind, DocumentRequest, RenderedDocument, render_document
from postal.models import Address, Branding, Instalment, Invoice, InvoiceLine, Language

DPI = 70
KINDS = (DocumentKind.INVOICE, DocumentKind.REMINDER, DocumentKind.FINAL_NOTICE, DocumentKind.PAYMENT_PLAN_REMINDER)
DOCUMENT_DATE = date(2026, 3, 2)


def logo(initials: str, colour: tuple[int, int, int]) -> str:
    """A small wordmark (initials on a coloured tile) as base64 PNG: samples show where an org's logo goes."""
    from PIL import ImageDraw, ImageFont

    from postal.documents.fonts import FONT_DIR

    image = Image.new("RGB", (80, 80), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 79, 79), radius=14, fill=colour)
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), 34)
    draw.text((40, 40), initials, font=font, fill="white", anchor="mm")
    out = BytesIO()
    image.quantize(colors=8).save(out, format="PNG", optimize=True)
    return base64.b64encode(out.getvalue()).decode()


@dataclass(frozen=True)
class Sample:
    zone_id: str
    branding: Branding
    recipient: Address
    descriptions: tuple[str, ...]
    buyer_vat: str | None
    exemption: str | None
    vat_rate: Decimal  # the sender country's standard rate


def _sender(
    address: Address,
    logo_tile: tuple[str, tuple[int, int, int]],
    bank: tuple[str, str, str],
    contact: tuple[str, str, str],
    footer: str,
    name: str | None = None,
) -> Branding:
    """An org's branding: its address (`name` when its full name is longer than the address's), its logo tile
    (initials, colour), bank (IBAN, BIC, VAT number) and contact (name, phone, e-mail)."""
    iban, bic, vat_number = bank
    contact_name, contact_phone, contact_email = contact
    return Branding(
        name=name or address.name,
        sender_address=address,
        logo_png_base64=logo(*logo_tile),
        iban=iban,
        bic=bic,
        vat_number=vat_number,
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        footer=footer,
    )


def _ijsselmonde(footer: str) -> Branding:
    """The Dutch sender of the EN and NL samples (one org; the footer in the letter's language)."""
    return _sender(
        Address(name="Ĳsselmonde Diensten B.V.", lines=["Havenstraat 1"], postal_code="3011 AB", city="Rotterdam",
                country="NL"),
        ("IJ", (0, 94, 134)), ("NL91ABNA0417164300", "ABNANL2A", "NL001234567B01"),
        ("Sanne de Vries", "+31 10 123 45 67", "debiteuren@ijsselmonde.nl"), footer,
    )  # fmt: skip


SAMPLES: dict[Language, Sample] = {
    Language.EN: Sample(
        zone_id="pingen-left",
        branding=_ijsselmonde("Chamber of Commerce 12345678 · Registered office Rotterdam"),
        recipient=Address(name="Accounts Payable", company="Harrington & Blythe Ltd", lines=["14 Clerkenwell Road"],
                          postal_code="EC1M 5PA", city="London", country="GB"),
        descriptions=("Port logistics consultancy, February 2026", "Container handling (TEU)",
                      "Customs documentation per shipment", "Warehouse storage, pallet-weeks"),
        buyer_vat="GB123456789", exemption="Reverse charge: VAT to be accounted for by the recipient",
        vat_rate=Decimal(21),
    ),
    Language.NL: Sample(
        zone_id="pingen-left",
        branding=_ijsselmonde("KvK 12345678 · Statutair gevestigd te Rotterdam"),
        recipient=Address(name="T.a.v. de crediteurenadministratie", company="Bakkerij Van den Heuvel B.V.",
                          lines=["Oudegracht 112"], postal_code="3511 AX", city="Utrecht", country="NL"),
        descriptions=("Advies havenlogistiek, februari 2026", "Containeroverslag (TEU)",
                      "Douanedocumenten per zending", "Opslag per palletweek"),
        buyer_vat="NL987654321B01", exemption=None, vat_rate=Decimal(21),
    ),
    Language.FR: Sample(
        zone_id="nf-z11-001",
        branding=_sender(
            Address(name="Zéphyr Logistique", lines=["12 rue de la Convention", "Bâtiment C"], postal_code="69007",
                    city="Lyon", country="FR"),
            ("ZL", (176, 48, 42)), ("FR7630006000011234567890189", "AGRIFRPPXXX", "FR40303265045"),
            ("Élodie Marchand", "+33 4 72 00 00 00", "compta@zephyr-log.fr"),
            "SARL au capital de 50 000 € · RCS Lyon 303 265 045 · Pénalités de retard : 3 fois le taux "
            "d'intérêt légal ; indemnité forfaitaire pour frais de recouvrement : 40 €",
            name="Zéphyr Logistique & Services Internationaux SARL",
        ),
        recipient=Address(name="Service comptabilité", company="Boulangerie Dupont SAS",
                          lines=["8 avenue Jean Jaurès"], postal_code="75019", city="Paris", country="FR"),
        descriptions=("Transport routier Lyon - Paris, février 2026", "Manutention (palettes)",
                      "Frais de dossier douane", "Stockage, semaine-palette"),
        buyer_vat="FR83404833048", exemption=None, vat_rate=Decimal(20),
    ),
    Language.DE: Sample(
        zone_id="din5008-b",
        branding=_sender(
            Address(name="Müller & Söhne", lines=["Königsallee 27"], postal_code="40212", city="Düsseldorf",
                    country="DE"),
            ("MS", (40, 90, 50)), ("DE89370400440532013000", "COBADEFFXXX", "DE123456789"),
            ("Jürgen Weiß", "+49 211 123456", "buchhaltung@mueller-soehne.de"),
            "Amtsgericht Düsseldorf HRB 12345 · Geschäftsführer: Jürgen Weiß, Anna Müller",
            name="Müller & Söhne Spedition GmbH",
        ),
        recipient=Address(name="Buchhaltung", company="Alpenblick Handels GmbH", lines=["Mariahilfer Straße 45"],
                          postal_code="1060", city="Wien", country="AT"),
        descriptions=("Speditionsleistung Düsseldorf - Wien, Februar 2026", "Umschlag Container (TEU)",
                      "Zollabwicklung je Sendung", "Lagerung je Palettenwoche"),
        buyer_vat="ATU12345678", exemption="Steuerfreie innergemeinschaftliche Leistung (§ 4 Nr. 1b UStG)",
        vat_rate=Decimal(19),
    ),
}  # fmt: skip


def _invoices(sample: Sample, count: int, lines: int, *, plan: bool = False) -> list[Invoice]:
    out = []
    for n in range(count):
        issue = DOCUMENT_DATE - timedelta(days=75 - n)
        items = [
            InvoiceLine(
                description=sample.descriptions[i % len(sample.descriptions)],
                quantity=Decimal(1 + (i * 7) % 12),
                unit_price=Decimal("145.00") + Decimal(i * 17),
                vat_rate=Decimal(0) if sample.exemption and i == lines - 1 else sample.vat_rate,
            )
            for i in range(lines)
        ]
        net = sum((i.quantity * i.unit_price * (1 + i.vat_rate / 100) for i in items), Decimal(0))
        open_amount = net.quantize(Decimal("0.01"))
        instalments = []
        if plan:
            part = (open_amount / 6).quantize(Decimal("0.01"))
            instalments = [
                Instalment(due_date=issue + timedelta(days=30 * (k + 1)),
                           amount=part if k < 5 else open_amount - 5 * part, paid=k < 1)
                for k in range(6)
            ]  # fmt: skip
        out.append(
            Invoice(
                invoice_id=f"inv-{n}",
                customer_id="cus-1",
                number=f"2026-{1042 + n:05d}",
                issue_date=issue,
                due_date=issue + timedelta(days=30),
                supply_date=issue - timedelta(days=3),
                open_amount=open_amount,
                payment_reference="RF18539007547034" if count == 1 else None,
                customer_number="K-20417",
                buyer_vat_number=sample.buyer_vat,
                vat_exemption_reason=sample.exemption,
                lines=items,
                instalments=instalments,
            )
        )
    return out


def sample_request(kind: DocumentKind, language: Language) -> DocumentRequest:
    """A realistic document: an invoice long enough for a continuation page, reminders for a few invoices."""
    sample = SAMPLES[language]
    if kind is DocumentKind.INVOICE:
        invoices = _invoices(sample, 1, 34)
    elif kind is DocumentKind.PAYMENT_PLAN_REMINDER:
        invoices = _invoices(sample, 1, 4, plan=True)
    else:
        invoices = _invoices(sample, 5, 3)
    return DocumentRequest(
        kind=kind,
        language=language,
        zone_id=sample.zone_id,
        branding=sample.branding,
        recipient=sample.recipient,
        invoices=invoices,
        document_date=DOCUMENT_DATE,
    )


# The longest realistic data: every name at 60 characters where the field allows it, a 7-line address whose
# lines are as long as the narrowest window (DIN 5008, 80 mm at 8 pt) takes, 40 invoices.
LONG_NAME = "Zéphyr Logistique & Services Internationaux SARL Groupe Nord"
LONG_BRANDING = Branding(
    name=LONG_NAME,
    sender_address=Address(
        name=LONG_NAME,
        lines=["Zone Industrielle des Hauts-de-Seine Nord", "Bâtiment C, 3e étage, porte 12", "Boîte postale 4711"],
        postal_code="92230",
        city="Gennevilliers",
        country="FR",
    ),
    iban="FR7630006000011234567890189",
    bic="AGRIFRPPXXX",
    vat_number="FR40303265045",
    contact_name="Marie-Françoise de La Rochefoucauld-Montbéliard-Ducasse",
    contact_phone="+33 (1) 23-45-67-89",
    contact_email="service.recouvrement.clients-professionnels@zephyr-logistique.fr",
    footer="SARL au capital de 1 250 000 € · RCS Nanterre 303 265 045 · Pénalités de retard : trois fois le taux "
    "d'intérêt légal · Indemnité forfaitaire pour frais de recouvrement : 40 € (art. L441-10 du Code de commerce)",
)
LONG_RECIPIENT = Address(
    name="Wilhelmina von Oldenbarnevelt-Rijnsburg",
    company="Françoise & Øre Großhandel und Logistik GmbH",
    lines=["z. Hd. Kreditorenbuchhaltung, Abteilung 4", "Friedrich-Wilhelm-Straße 123, Hinterhaus", "Aufgang B, 3. OG"],
    postal_code="10115",
    city="Berlin",
    country="DE",
)
LONG_DESCRIPTION = "Sea freight consolidation Rotterdam - Hamburg incl. customs clearance, week 7"


def longest_request(kind: DocumentKind, language: Language, zone_id: str) -> DocumentRequest:
    """40 open invoices on a reminder; 6 invoices of 3 lines on an invoice document (already 4 pages, and the
    reading tests parse every page of all 144 combinations)."""
    invoices = []
    for n in range(6 if kind is DocumentKind.INVOICE else 40):
        issue = DOCUMENT_DATE - timedelta(days=120 - n)
        lines = [
            InvoiceLine(description=f"{LONG_DESCRIPTION} ({n}.{i})", quantity=Decimal("1250.5"),
                        unit_price=Decimal("98765.43"), vat_rate=Decimal(0) if i == 2 else Decimal("5.5"))
            for i in range(3)
        ]  # fmt: skip
        instalments = [
            Instalment(due_date=issue + timedelta(days=30 * (k + 1)), amount=Decimal("41152.26"), paid=k == 0)
            for k in range(3)
        ]
        invoices.append(
            Invoice(
                invoice_id=f"inv-{n}",
                customer_id="cus-1",
                number=f"FR-2026-ZLS-{n:06d}",
                issue_date=issue,
                due_date=issue + timedelta(days=30),
                supply_date=issue - timedelta(days=1),
                open_amount=Decimal("12345678.12"),
                payment_reference=f"RF-ZLS-2026-{n:06d}-{'X' * 30}",
                customer_number="CUST-2026-0000000000000000000042",
                buyer_vat_number="DE123456789",
                vat_exemption_reason="Exonération de TVA, article 262 ter I du CGI - livraison intracommunautaire",
                lines=lines,
                instalments=instalments,
            )
        )
    return DocumentRequest(
        kind=kind,
        language=language,
        zone_id=zone_id,
        branding=LONG_BRANDING,
        recipient=LONG_RECIPIENT,
        invoices=invoices,
        document_date=DOCUMENT_DATE,
    )


def page_png(doc: RenderedDocument, index: int, dpi: int = DPI) -> bytes:
    """One page as a small 16-colour PNG."""
    pdf = pypdfium2.PdfDocument(doc.pdf)
    try:
        image = pdf[index].render(scale=dpi / 72).to_pil()
    finally:
        pdf.close()
    out = BytesIO()
    image.convert("RGB").quantize(colors=16, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/samples")
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    for language in Language:
        for kind in KINDS:
            doc = render_document(sample_request(kind, language))
            pages = [0] + ([1] if doc.page_count > 1 else [])  # page 1 and one continuation page
            for index in pages:
                path = out_dir / f"{kind.value}-{language.value}-p{index + 1}.png"
                path.write_bytes(page_png(doc, index))
                print(f"{path} ({path.stat().st_size:,} B, {doc.page_count} pages)")


if __name__ == "__main__":
    main()

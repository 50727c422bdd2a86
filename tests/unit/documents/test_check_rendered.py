"""Every letter the service renders passes its own template check (issue 9: an org that downloads one of our PDFs
and posts it back through `POST /letters` must not be refused).

Every window standard x document kind x language, each with five long, realistic addresses (company, c/o, three
street lines, diacritics; Swiss, German, French, Dutch and Belgian postcodes). The recipient lines the check reads
from the window must be the lines the renderer was asked to print, in order.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from postal.documents.address_format import format_address
from postal.documents.check import check_pdf, read_window_address
from postal.documents.render import RETURN_LINE_SIZES, DocumentKind, DocumentRequest, render_document
from postal.documents.zones import get_zone, zone_ids
from postal.models import Address, Branding, Invoice, InvoiceLine, Language

SENDER = Address(
    name="Buchhaltung", lines=["Seestrasse 120"], postal_code="8002", city="Zürich", country="CH"
)  # fmt: skip
BRANDING = Branding(
    name="Zürcher Gemüse- & Früchtehandel AG", sender_address=SENDER, iban="CH9300762011623852957", footer="CHE-1"
)

ADDRESSES = [
    Address(
        company="Genossenschaft Wohnbau Zürich-Höngg", name="Frau Dr. Anna-Lena Schönenberger-Müller",
        lines=["c/o Hausverwaltung Brühlmann & Söhne", "Rütihofstrasse 42a", "Postfach 1234"],
        postal_code="8049", city="Zürich", country="CH",
    ),
    Address(
        company="Bäckerei & Konditorei Größenwahn GmbH", name="Herrn Jürgen Weißmüller",
        lines=["c/o Steuerbüro Ölschläger", "Friedrich-Ebert-Straße 117, 3. OG", "Hinterhaus links"],
        postal_code="10117", city="Berlin", country="DE",
    ),
    Address(
        company="Société Française d'Électricité", name="Madame Éloïse Lefèvre-Dubœuf",
        lines=["Bâtiment C, Résidence Les Érables", "14 avenue du Général-de-Gaulle"],
        postal_code="75008", city="Paris", country="FR",
    ),
    Address(
        company="IJsselmonde Installatietechniek B.V.", name="Dhr. Pieter-Jan van der Heijden",
        lines=["t.a.v. Crediteurenadministratie", "Koningin Wilhelminaplein 30-32"],
        postal_code="3072 DE", city="Rotterdam", country="NL",
    ),
    Address(
        company="Brasserie de l'Abbaye Notre-Dame", name="Monsieur François Vanderstraeten",
        lines=["Chaussée de Louvain 1234, boîte 5"],
        postal_code="1030", city="Schaerbeek", country="BE",
    ),
]  # fmt: skip


def _request(zone_id: str, kind: DocumentKind, language: Language, recipient: Address) -> DocumentRequest:
    invoice = Invoice.model_validate(
        {
            "invoice_id": "inv-1",
            "customer_id": "cus-1",
            "number": "2026-001234",
            "issue_date": date(2026, 1, 10),
            "due_date": date(2026, 2, 10),
            "open_amount": Decimal("1234.50"),
            "payment_reference": "RF18539007547034",
            "lines": [
                InvoiceLine(description=f"Leistung {i}", quantity=Decimal(3), unit_price=Decimal("19.9"), vat_rate=8)
                for i in range(12)
            ],
        }
    )
    return DocumentRequest(
        kind=kind,
        language=language,
        zone_id=zone_id,
        branding=BRANDING,
        recipient=recipient,
        invoices=[invoice] if kind is not DocumentKind.LETTER and kind is not DocumentKind.COVER_PAGE else [],
        body="Sehr geehrte Damen und Herren, " * 20 if kind in (DocumentKind.LETTER, DocumentKind.COVER_PAGE) else None,
        document_date=date(2026, 3, 1),
    )


@pytest.mark.parametrize("kind", list(DocumentKind))
@pytest.mark.parametrize("zone_id", zone_ids())
def test_every_rendered_letter_passes_the_check(zone_id: str, kind: DocumentKind) -> None:
    zone = get_zone(zone_id)
    failures = []
    for language in Language:
        for recipient in ADDRESSES:
            doc = render_document(_request(zone_id, kind, language, recipient))
            result = check_pdf(doc.pdf, zone)
            printed = [line.text for line in result.address_lines]
            # PostNL separates postcode and city by two spaces; text extraction reads a run of spaces as one.
            expected = [" ".join(line.text.split()) for line in format_address(recipient, SENDER.country, language)]
            if not result.ok or printed != expected:
                failures.append((language.value, recipient.country, printed, [p.message for p in result.problems]))
    assert not failures, failures


def test_the_return_line_is_read_on_its_own_not_as_the_first_recipient_line() -> None:
    # DIN 5008 B: the sender's 7 pt return line sits 1.5 mm above the address zone.
    zone = get_zone("din5008-b")
    doc = render_document(_request("din5008-b", DocumentKind.INVOICE, Language.DE, ADDRESSES[1]))
    window = read_window_address(doc.pdf, zone)
    assert window.return_line is not None
    assert window.return_line.text.startswith("Zürcher Gemüse- & Früchtehandel AG · Seestrasse 120")
    # The renderer shrinks the return line from 7 pt to at most 6 pt before it abbreviates (RETURN_LINE_SIZES).
    assert min(RETURN_LINE_SIZES) - 0.3 <= window.return_line.size_pt <= max(RETURN_LINE_SIZES) + 0.3
    assert zone.return_line is not None and zone.return_line.y0 <= window.return_line.y0
    assert window.return_line.y1 <= zone.return_line.y1
    assert [line.text for line in window.lines] == [
        line.text for line in format_address(ADDRESSES[1], "CH", Language.DE)
    ]

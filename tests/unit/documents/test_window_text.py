"""`window_text` reads what the envelope window shows, from PDFs of several producers."""

from __future__ import annotations

from datetime import date

import pytest

from postal.documents.render import DocumentKind, DocumentRequest, render_document
from postal.documents.window_text import window_text
from postal.documents.zones import get_zone, zone_ids
from postal.errors import ValidationFailed
from postal.models import Address, Branding, Language
from tests.unit.documents import pdf_corpus

PINGEN_LEFT = get_zone("pingen-left")


@pytest.mark.parametrize("producer", [pdf_corpus.letter, pdf_corpus.reportlab_letter], ids=["fpdf2", "reportlab"])
def test_the_window_shows_the_address_block_and_nothing_outside_it(producer: object) -> None:
    pdf = producer()  # type: ignore[operator]
    assert window_text(pdf, PINGEN_LEFT).split("\n") == pdf_corpus.ADDRESS  # the sender line at 20 mm is outside


def test_a_window_with_nothing_in_it_reads_empty() -> None:
    assert window_text(pdf_corpus.letter(address=[]), PINGEN_LEFT) == ""


@pytest.mark.parametrize("zone_id", zone_ids())
def test_our_rendered_cover_page_shows_the_recipient_in_every_window_standard(zone_id: str) -> None:
    recipient = Address(
        name="Dieter Deutsch", lines=["Hauptstraße 5"], postal_code="10115", city="Berlin", country="DE"
    )
    zone = get_zone(zone_id)
    cover = render_document(
        DocumentRequest(
            kind=DocumentKind.COVER_PAGE,
            language=Language.DE,
            zone_id=zone_id,
            # A German sender: domestic mail, so Deutsche Post's rules print the city as written, no country line.
            branding=Branding(
                name="Acme",
                sender_address=Address(name="Acme", lines=["Weg 1"], postal_code="10117", city="Berlin", country="DE"),
            ),
            recipient=recipient,
            document_date=date(2026, 12, 2),
        )
    )
    assert window_text(cover.pdf, zone).split("\n")[:3] == ["Dieter Deutsch", "Hauptstraße 5", "10115 Berlin"]


def test_an_unreadable_file_is_a_422() -> None:
    with pytest.raises(ValidationFailed) as raised:
        window_text(b"%PDF-1.7 not really", PINGEN_LEFT)
    assert raised.value.code == "pdf_unreadable"

"""The address cover page: a page that prints the recipient in the window, put in front of an uploaded PDF whose
own first page does not (`"address_cover_page": true`)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from postal.errors import ValidationFailed
from postal.models import Address, Branding, Language
from postal.ports import Stores

if TYPE_CHECKING:
    from postal.documents.check import CheckProblem

# What the check says about the window of page 1; behind a cover page the window shows the cover, not the upload.
_PAGE_ONE_WINDOW = frozenset({"address_not_found", "address_not_machine_readable", "address_outside_window"})


def behind_cover_page(problems: list[CheckProblem]) -> list[CheckProblem]:
    """The check's problems that still hold when the PDF goes behind a cover page: everything except what concerns
    the window and the clear zones of its first page (its border rule holds on every page)."""
    return [
        p
        for p in problems
        if p.code not in _PAGE_ONE_WINDOW
        and not (p.code == "content_in_clear_zone" and p.page == 1 and p.zone != "border")
    ]


def with_cover_page(
    stores: Stores,
    org_id: str,
    pdf: bytes,
    address: Address,
    customer_id: str | None,
    zone_id: str,
    duplex: bool,
    now: str,
) -> tuple[bytes, int]:
    """The uploaded PDF behind a cover page that prints the recipient in the window (in the customer's language),
    and the number of pages put in front. In duplex the cover's back stays blank, so the letter still starts on its
    own sheet: one more sheet either way. The cover is rendered by the service, like its invoices and reminders.
    Raises `ValidationFailed` (`pdf_unreadable`) when the upload cannot be read."""
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    from postal.documents.render import DocumentKind, DocumentRequest, render_document

    org = stores.orgs.get_org(org_id)
    language = stores.customers.get_customer(org_id, customer_id).language if customer_id else Language.EN
    cover = render_document(
        DocumentRequest(
            kind=DocumentKind.COVER_PAGE,
            language=language,
            zone_id=zone_id,
            branding=org.branding or Branding(name=org.name),
            recipient=address,
            document_date=date.fromisoformat(now[:10]),
        )
    )
    writer = PdfWriter()
    try:
        writer.append(PdfReader(BytesIO(cover.pdf)))
        if duplex:
            first = writer.pages[0]
            writer.add_blank_page(width=first.mediabox.width, height=first.mediabox.height)
        writer.append(PdfReader(BytesIO(pdf), strict=False))
    except Exception as exc:  # pypdf raises many types on broken files; the check would say the same
        raise ValidationFailed(
            "the PDF is damaged and cannot be read",
            code="pdf_unreadable",
            details={"reason": type(exc).__name__},
            fix="export or print the document to PDF again and upload the new file",
        ) from exc
    out = BytesIO()
    writer.write(out)
    return out.getvalue(), 2 if duplex else 1

"""What to render (`DocumentRequest`), what comes back, the layout constants, and the content rules that do
not depend on the layout (totals, the payment reference, the instalments due)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache
from io import BytesIO

from PIL import Image
from pydantic import BaseModel, ConfigDict

from postal.documents.payment_qr import EPC_REMITTANCE_MAX
from postal.documents.zones import MM_PER_PT
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


def _grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))

"""Domain models shared by every function: the product's nouns, validated with pydantic.

Write models (`...In`) reject unknown fields; stored models carry the server-side fields as well.
"""

from __future__ import annotations

import base64
import binascii
import io
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator


class Strict(BaseModel):
    """Base for request bodies: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Channel(StrEnum):
    EMAIL = "email"
    POST = "post"
    SMS = "sms"


class StepAction(StrEnum):
    EMAIL = "email"
    POST = "post"
    SMS = "sms"
    MANUAL_INTERVENTION = "manual_intervention"
    LETTER_TASK = "letter_task"


class TemplateKind(StrEnum):
    INVOICE = "invoice"
    REMINDER = "reminder"
    FINAL_NOTICE = "final_notice"
    PAYMENT_PLAN_REMINDER = "payment_plan_reminder"
    LETTER = "letter"


class Layout(StrEnum):
    STANDARD = "standard"
    CUSTOM = "custom"


class Language(StrEnum):
    EN = "en"
    NL = "nl"
    FR = "fr"
    DE = "de"


class Postage(StrEnum):
    PRIORITY = "priority"
    ECONOMY = "economy"
    REGISTERED = "registered"
    REGISTERED_WITH_RECEIPT = "registered_with_receipt"


class ProviderName(StrEnum):
    PINGEN = "pingen"
    POSTGRID = "postgrid"
    MYSENDINGBOX = "mysendingbox"
    GENERIC = "generic"
    SANDBOX = "sandbox"


class LetterStatus(StrEnum):
    """Canonical letter status (providers.md §5.1). Order of declaration is the forward order."""

    CREATED = "created"
    RENDERED = "rendered"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PRINTING = "printing"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    FAILED = "failed"
    CANCELLED = "cancelled"


def is_country(code: str) -> bool:
    """True for an ISO 3166-1 alpha-2 country code (`ZZ`, `XK`, `EU` are not)."""
    return len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


def _country(code: str) -> str:
    if not is_country(code):
        raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
    return code


def _currency(code: str) -> str:
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"'{code}' is not an ISO 4217 currency code")
    return code


CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True), AfterValidator(_country)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True), AfterValidator(_currency)]

# Money: a sane maximum for one amount (a billion less a cent); sums of 200 lines of 1,000,000 units stay far
# inside Decimal's 28 significant digits, so nothing downstream overflows, rounds or raises.
MAX_AMOUNT = Decimal("999999999.99")
Amount = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, max_digits=14, description="Non-negative, at most 999999999.99")]
SignedAmount = Annotated[
    Decimal, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, max_digits=14, description="Negative for a discount line")
]
# Dates the service computes with (a due date plus up to ten years of steps) stay well inside `date`'s range.
BusinessDate = Annotated[date, Field(ge=date(1970, 1, 1), le=date(2099, 12, 31))]


def fraction_digits(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def require_currency_digits(currency: str, **amounts: Decimal | None) -> None:
    """At most the currency's fraction digits (EUR 2, JPY 0, KWD 3) in each amount."""
    # Babel only where an amount is validated: handlers that never see money do not load it at cold start.
    from babel.numbers import get_currency_precision

    digits = get_currency_precision(currency)
    for name, amount in amounts.items():
        if amount is not None and fraction_digits(amount) > digits:
            raise ValueError(f"{name} has more than the {digits} fraction digits of {currency}")


Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class Address(Strict):
    """A structured postal address. Country-specific validation lives in `postal.addresses`."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    company: Annotated[str, StringConstraints(max_length=100)] | None = None
    lines: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=100)]], Field(min_length=1, max_length=3)
    ]
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: CountryCode


class PartialAddress(Strict):
    """A billing address as the AR platform may sync it: any field may be missing. Stored as given; it is only
    required complete where post or paper is chosen (`postal.addresses.mailable`)."""

    name: Annotated[str, StringConstraints(max_length=100)] | None = None
    company: Annotated[str, StringConstraints(max_length=100)] | None = None
    lines: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=100)]], Field(max_length=3)] = (
        Field(default_factory=list)
    )
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    city: Annotated[str, StringConstraints(max_length=100)] | None = None
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: CountryCode | None = None


class Money(BaseModel):
    amount: Amount
    currency: CurrencyCode

    @model_validator(mode="after")
    def _digits(self) -> Money:
        require_currency_digits(self.currency, amount=self.amount)
        return self


class AddressPosition(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    CUSTOM = "custom"


def _hundredths(mm: float) -> float:
    """Millimetres to at most two decimals: `5e-324` or `1e-7` is no position on paper (and DynamoDB refuses
    to store what its Decimal context would round)."""
    if round(mm, 2) != mm:
        raise ValueError("give millimetres with at most two decimals")
    return mm


Millimetres = Annotated[float, AfterValidator(_hundredths)]


class CustomAddressBox(Strict):
    """Custom recipient address coordinates in mm from the top-left of page 1 (the box lies within the page:
    216 x 297 mm covers A4 and US Letter)."""

    x_mm: Millimetres = Field(ge=0, le=216)
    y_mm: Millimetres = Field(ge=0, le=297)
    width_mm: Millimetres = Field(ge=1, le=216)
    height_mm: Millimetres = Field(ge=1, le=297)

    @model_validator(mode="after")
    def _within_page(self) -> CustomAddressBox:
        if self.x_mm + self.width_mm > 216 or self.y_mm + self.height_mm > 297:
            raise ValueError("the address box must lie within the page (216 x 297 mm)")
        return self


VatNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9 .\-]{2,18}$", to_upper=True)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()\-]{5,20}$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class Instalment(Strict):
    """One instalment of a payment plan: what is due when, and whether it has been paid."""

    due_date: date
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    paid: bool = False


class InvoiceLine(Strict):
    description: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    quantity: Decimal = Field(default=Decimal(1), gt=0, le=1_000_000, decimal_places=3)
    unit_price: SignedAmount = Field(description="In the invoice's currency, at most its fraction digits")
    vat_rate: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=2, description="VAT in percent, e.g. 21")


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


MAX_LOGO_PIXELS = 4000


def _png_base64(value: str) -> str:
    """A logo the renderer can place: base64 of a PNG that opens, at most 4000 px a side (no decompression
    bomb)."""
    from PIL import Image, UnidentifiedImageError  # only the functions that take branding pay for the import

    try:
        with Image.open(io.BytesIO(base64.b64decode(value, validate=True))) as image:
            if image.format != "PNG" or max(image.size) > MAX_LOGO_PIXELS:
                raise ValueError(f"the logo must be a PNG of at most {MAX_LOGO_PIXELS} px a side")
            image.verify()
    except (binascii.Error, UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError("the logo is not a base64-encoded PNG") from exc
    return value


class Branding(Strict):
    """What an org prints on its paper: name, sender address, optional logo, footer with bank details."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    sender_address: Address | None = None
    logo_png_base64: Annotated[str, AfterValidator(_png_base64)] | None = Field(default=None, max_length=700_000)
    iban: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$")] | None = None
    bic: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")] | None = None
    footer: Annotated[str, StringConstraints(max_length=300)] | None = None
    payment_portal_url: Annotated[str, StringConstraints(pattern=r"^https://", max_length=500)] | None = None
    vat_number: VatNumber | None = Field(default=None, description="The org's VAT number, printed on every document")
    contact_name: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None


# ---------------------------------------------------------------------------------------------------------- records


class IntegrationStatus(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTED = "connected"


class PaperInvoiceMode(StrEnum):
    """Paper goes out together with the email, or instead of it (PRODUCT.md §2.4)."""

    WITH_EMAIL = "with_email"
    INSTEAD_OF_EMAIL = "instead_of_email"


class ReturnedMailFallback(StrEnum):
    """What happens besides the fix-address task when a letter comes back (PRODUCT.md §3)."""

    NONE = "none"
    EMAIL = "email"  # a CommunicationDue event asks the AR platform to email the customer instead


OrgName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
RETURNED_MAIL_FALLBACK_DOC = "On returned mail, also ask the AR platform to email the customer ('email')"


class OrgIn(Strict):
    name: OrgName
    branding: Branding | None = None
    paper_invoice_fee: Money | None = None
    window_standard: str | None = Field(default=None, description="Window standard id for rendered documents")
    returned_mail_fallback: ReturnedMailFallback = Field(
        default=ReturnedMailFallback.NONE, description=RETURNED_MAIL_FALLBACK_DOC
    )


class OrgPatch(Strict):
    """`PATCH /v1/orgs/{org_id}`: the fields given replace the stored ones; `null` removes an optional one."""

    name: OrgName | None = None
    branding: Branding | None = None
    paper_invoice_fee: Money | None = None
    window_standard: str | None = None
    returned_mail_fallback: ReturnedMailFallback | None = Field(default=None, description=RETURNED_MAIL_FALLBACK_DOC)


class Org(BaseModel):
    org_id: str
    name: str
    branding: Branding | None = None
    paper_invoice_fee: Money | None = None
    window_standard: str | None = None
    returned_mail_fallback: ReturnedMailFallback = ReturnedMailFallback.NONE
    created_at: str
    updated_at: str | None = None


class PostalIntegration(BaseModel):
    """Per org. `generation` increases on every connect and disconnect: in-flight work compares it."""

    org_id: str
    status: IntegrationStatus = IntegrationStatus.DISCONNECTED
    provider: ProviderName | None = None
    connected_at: str | None = None
    disconnected_at: str | None = None
    secret_ref: str | None = Field(default=None, exclude=True)
    # The secrets of earlier connections (newest first, bounded): letters sent through them are still tracked.
    past_secret_refs: list[str] = Field(default_factory=list, exclude=True, max_length=20)
    generation: int = 0
    last_job_id: str | None = None


class TemplateCheck(BaseModel):
    """The stored result of the last compatibility check of a custom template PDF."""

    ok: bool
    checked_at: str
    zone_id: str
    pdf_sha256: str
    problems: list[dict[str, object]] = Field(default_factory=list)
    address_box_mm: dict[str, float] | None = None
    preview_key: str | None = None


class CustomPdf(BaseModel):
    s3_key: str
    sha256: str
    size: int
    uploaded_at: str


class TemplateIn(Strict):
    kind: TemplateKind
    name: Annotated[str, StringConstraints(max_length=100)] | None = None
    default_channel: Channel = Channel.EMAIL
    language: Language = Language.EN
    layout: Layout = Layout.STANDARD
    address_position: AddressPosition = AddressPosition.LEFT
    custom_address_box: CustomAddressBox | None = None


class Template(TemplateIn):
    model_config = ConfigDict(extra="ignore")

    template_id: str
    updated_at: str
    custom_pdf: CustomPdf | None = None
    check: TemplateCheck | None = None


class CustomerIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    billing_address: Address | PartialAddress | None = Field(
        default=None,
        description="Complete where post or paper invoices are chosen; otherwise stored as given (channel "
        "resolution reports what is missing)",
    )
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()\-]{5,20}$")] | None = None
    language: Language = Language.EN
    preference: Channel | None = Field(default=None, description="Overrides every template's default channel")
    paper_invoice: bool = False
    paper_invoice_mode: PaperInvoiceMode = PaperInvoiceMode.WITH_EMAIL


class AddressState(StrEnum):
    OK = "ok"
    RETURNED = "returned"


class Customer(CustomerIn):
    model_config = ConfigDict(extra="ignore")

    customer_id: str
    updated_at: str
    address_state: AddressState = AddressState.OK


class CollectionStep(Strict):
    day_offset: int = Field(ge=-365, le=3650, description="Days after the invoice's due date")
    template_id: Identifier
    action: StepAction
    step_id: Identifier | None = Field(
        default=None,
        description="The step's identity across edits of the sequence (an invoice runs each step id once). "
        "Omitted: the template id, '-2', '-3'... for its later uses. Keep the ids GET returns when you edit.",
    )


class CollectionStepsIn(Strict):
    steps: list[CollectionStep] = Field(max_length=50)


class InvoiceIn(Strict):
    customer_id: Identifier
    number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issue_date: BusinessDate
    due_date: BusinessDate
    currency: CurrencyCode = "EUR"
    lines: list[InvoiceLine] = Field(default_factory=list, max_length=200)
    open_amount: Amount
    payment_reference: Annotated[str, StringConstraints(max_length=64)] | None = None
    status: InvoiceStatus = InvoiceStatus.OPEN
    customer_number: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    buyer_vat_number: VatNumber | None = None
    supply_date: date | None = Field(default=None, description="Date of supply, when it differs from the issue date")
    vat_exemption_reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Why a line carries 0 % VAT (e.g. reverse charge), printed under the totals"
    )
    instalments: list[Instalment] = Field(default_factory=list, max_length=60, description="Payment plan schedule")

    @model_validator(mode="after")
    def _currency_digits(self) -> InvoiceIn:
        require_currency_digits(self.currency, open_amount=self.open_amount)
        for i, line in enumerate(self.lines):
            require_currency_digits(self.currency, **{f"lines.{i}.unit_price": line.unit_price})
        return self


class Invoice(InvoiceIn):
    """An invoice as documents render it: the API's fields plus its id."""

    invoice_id: Identifier


class InvoiceRecord(Invoice):
    """The state the service keeps per invoice (collection progress included)."""

    model_config = ConfigDict(extra="ignore")

    invoice_id: str
    updated_at: str
    steps_run: list[str] = Field(default_factory=list, description="Ids of the collection steps already run")
    next_step_id: str | None = Field(default=None, description="The step that runs next, by the current sequence")
    next_due: date | None = None


class JobStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobFailure(BaseModel):
    """One item a job could not do, and why (an org, an invoice's step, a reconciliation given up)."""

    reason: str
    invoice_id: str | None = None
    step_id: str | None = None
    task_id: str | None = None
    at: str


class Job(BaseModel):
    """A long job with progress (`done`/`total`), e.g. the disconnect cascade or one date's nightly run."""

    job_id: str
    org_id: str
    kind: str
    status: JobStatus
    done: int = 0
    total: int | None = None
    phase: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    started_at: str
    updated_at: str | None = None
    finished_at: str | None = None
    # Disconnect cascade: letters whose hand-over completed after the disconnect and that the provider would no
    # longer cancel (they are mailed; PRODUCT §2.3 says none should be: a person must know).
    submitted_after_disconnect: list[str] = Field(default_factory=list)
    firings: int | None = Field(default=None, description="Nightly runs: how many firings of that date ran")
    failures: list[JobFailure] = Field(default_factory=list, description="The first failures, with the reason")


class TaskKind(StrEnum):
    MANUAL_INTERVENTION = "manual_intervention"
    LETTER_TASK = "letter_task"
    FIX_ADDRESS = "fix_address"
    STEP_FAILED = "step_failed"  # a collection step kept failing; reconciliation gave up on it


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class TaskQuery(BaseModel):
    """`GET .../tasks` filters: one status; created within [created_from, created_to] (dates or timestamps)."""

    status: TaskStatus = TaskStatus.OPEN
    kind: TaskKind | None = None
    customer_id: str | None = None
    created_from: str | None = None
    created_to: str | None = None


class Task(BaseModel):
    task_id: str
    org_id: str
    kind: TaskKind
    customer_id: str | None = None
    invoice_id: str | None = None
    template_id: str | None = None
    note: str | None = None
    status: str = "open"
    created_at: str
    completed_at: str | None = None

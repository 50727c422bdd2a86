"""Every value a model accepts can be stored and rendered: hypothesis throws wide, hostile values at each model
(huge and tiny numbers, exponents, negative amounts, every currency and country code, odd text), keeps what
validates, and renders it (PDF for documents, DynamoDB attribute values for everything stored). What does not
validate is refused by the API with a 422 before anything else runs."""

from __future__ import annotations

import base64
import io
from datetime import date
from typing import Any

import pycountry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import BaseModel, ValidationError

from postal.addresses import mailable
from postal.api.errors import status_for
from postal.documents.render import DocumentKind, DocumentRequest, render_document
from postal.documents.zones import zone_ids
from postal.errors import DomainError, ValidationFailed
from postal.integration import template_problems
from postal.models import (
    Address,
    Branding,
    CustomAddressBox,
    CustomerIn,
    InvoiceIn,
    InvoiceLine,
    Language,
    Money,
    OrgIn,
    ProviderName,
    Template,
    TemplateIn,
)
from postal.store.dynamo import serialize

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Numbers as a careless client or an attacker writes them: exponents, 42 digits, subnormal floats, signs.
numbers = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(min_value=-(10**45), max_value=10**45).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1E+1000", "1E+127", "1E+400", "-0", "0.001", "5e-324", "999999999.99", "1000000000", "1.5"]),
    st.from_regex(r"\A-?[0-9]{1,12}(\.[0-9]{1,4})?\Z"),
)
currencies = st.one_of(
    st.sampled_from(sorted(c.alpha_3 for c in pycountry.currencies)), st.sampled_from(["ZZZ", "eur"])
)
countries = st.one_of(
    st.sampled_from(sorted(c.alpha_2 for c in pycountry.countries)), st.sampled_from(["ZZ", "XK", "EU", "de"])
)
text = st.text(min_size=0, max_size=120)
dates = st.one_of(st.dates(), st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(2026, 2, 28)]))


def store(model: BaseModel) -> None:
    """What a repository writes for a model (postal.store.table.dump, then the DynamoDB serializer)."""
    serialize(model.model_dump(mode="json", exclude_none=True))


def accepted(model: type[BaseModel], data: Any) -> Any:
    """The model built from `data`, or None when it refuses it (what the API answers with a 422)."""
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def addresses() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": text,
            "lines": st.lists(text, min_size=1, max_size=3),
            "postal_code": st.one_of(st.none(), st.text(max_size=20)),
            "city": text,
            "country": countries,
        },
        optional={"company": text, "region": text},
    )


def lines() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"description": text, "unit_price": numbers}, optional={"quantity": numbers, "vat_rate": numbers}
    )


def invoices() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "customer_id": st.just("cus-1"),
            "number": text,
            "issue_date": dates,
            "due_date": dates,
            "currency": currencies,
            "lines": st.lists(lines(), max_size=4),
            "open_amount": numbers,
        },
        optional={"payment_reference": st.text(max_size=64)},
    )


def pngs() -> st.SearchStrategy[bytes]:
    """Real PNGs of every mode and of odd sizes (1 px wide, very flat, large)."""

    def png(mode: str, width: int, height: int) -> bytes:
        out = io.BytesIO()
        Image.new(mode, (width, height)).save(out, format="PNG")
        return out.getvalue()

    side = st.integers(min_value=1, max_value=4100)
    return st.builds(png, st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]), side, st.integers(1, 60))


def render(kind: DocumentKind, *, branding: Branding, recipient: Address, **kw: Any) -> None:
    """Render; a document the layout cannot hold (an address too long for the window, mixed currencies) is a
    4xx domain error, which the API reports with its fix. Anything else raised would be a 5xx."""
    request = DocumentRequest(
        kind=kind,
        language=kw.pop("language", Language.EN),
        zone_id=kw.pop("zone_id", "pingen-left"),
        branding=branding,
        recipient=recipient,
        document_date=date(2026, 12, 2),
        **kw,
    )
    refused: DomainError | None = None
    try:
        rendered = render_document(request)
    except DomainError as exc:
        refused = exc
    if refused is not None:
        assert 400 <= status_for(refused) < 500, refused
        return
    assert rendered.pdf.startswith(b"%PDF") and rendered.page_count >= 1


BRANDING = Branding(name="Acme GmbH", iban="DE89370400440532013000", bic="COBADEFFXXX")
RECIPIENT = Address(name="Erika Muster", lines=["Bahnhofstrasse 12"], postal_code="8001", city="Zürich", country="CH")


@PROPERTY
@given(data=invoices(), kind=st.sampled_from([DocumentKind.INVOICE, DocumentKind.REMINDER]), fee=numbers)
def test_every_invoice_that_validates_renders_and_stores(data: dict[str, Any], kind: DocumentKind, fee: Any) -> None:
    invoice = accepted(InvoiceIn, data)
    if invoice is None:
        return
    store(invoice)
    paper_fee = accepted(Money, {"amount": fee, "currency": invoice.currency})
    stored = {**invoice.model_dump(), "invoice_id": "inv-1"}
    render(kind, branding=BRANDING, recipient=RECIPIENT, invoices=[stored], paper_invoice_fee=paper_fee)


@PROPERTY
@given(line=lines(), currency=currencies)
def test_every_invoice_line_that_validates_renders(line: dict[str, Any], currency: str) -> None:
    parsed = accepted(InvoiceLine, line)
    if parsed is None:
        return
    data = {"customer_id": "cus-1", "number": "1", "issue_date": "2026-11-01", "due_date": "2026-12-01"}
    invoice = accepted(InvoiceIn, {**data, "currency": currency, "open_amount": "0", "lines": [line]})
    if invoice is None:  # more fraction digits than the currency has
        return
    render(
        DocumentKind.INVOICE,
        branding=BRANDING,
        recipient=RECIPIENT,
        invoices=[{**invoice.model_dump(), "invoice_id": "i"}],
    )


@PROPERTY
@given(amount=numbers, currency=currencies)
def test_every_fee_that_validates_renders_and_stores(amount: Any, currency: str) -> None:
    fee = accepted(Money, {"amount": amount, "currency": currency})
    if fee is None:
        return
    assert fee.amount >= 0
    store(fee)
    org = accepted(OrgIn, {"name": "Acme", "paper_invoice_fee": fee.model_dump()})
    assert org is not None
    store(org)
    render(DocumentKind.REMINDER, branding=BRANDING, recipient=RECIPIENT, paper_invoice_fee=fee, invoices=[])


@PROPERTY
@given(
    recipient=addresses(),
    sender=addresses(),
    zone=st.sampled_from(zone_ids()),
    language=st.sampled_from(list(Language)),
)
def test_every_address_that_validates_renders_in_every_window(
    recipient: dict[str, Any], sender: dict[str, Any], zone: str, language: Language
) -> None:
    to, sender_address = accepted(Address, recipient), accepted(Address, sender)
    if to is None or sender_address is None:
        return
    store(to)
    branding = Branding(name="Acme GmbH", sender_address=sender_address)
    render(DocumentKind.LETTER, branding=branding, recipient=to, zone_id=zone, language=language, body="Hello")


@PROPERTY
@given(
    branding=st.fixed_dictionaries(
        {"name": text},
        optional={
            "iban": st.from_regex(r"\A[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}\Z"),
            "bic": st.from_regex(r"\A[A-Z0-9]{8}([A-Z0-9]{3})?\Z"),
            "footer": st.text(max_size=300),
            "payment_portal_url": st.from_regex(r"\Ahttps://[a-z]{1,20}\.example/[a-z0-9/]{0,40}\Z"),
            "logo_png_base64": st.one_of(st.binary(max_size=64), pngs()).map(lambda b: base64.b64encode(b).decode()),
        },
    )
)
def test_every_branding_that_validates_renders(branding: dict[str, Any]) -> None:
    parsed = accepted(Branding, branding)
    if parsed is None:
        return
    store(parsed)
    render(DocumentKind.REMINDER, branding=parsed, recipient=RECIPIENT, invoices=[])


@PROPERTY
@given(box=st.fixed_dictionaries({"x_mm": numbers, "y_mm": numbers, "width_mm": numbers, "height_mm": numbers}))
def test_every_custom_address_box_that_validates_stores_and_explains_itself(box: dict[str, Any]) -> None:
    parsed = accepted(CustomAddressBox, box)
    if parsed is None:
        return
    assert parsed.x_mm + parsed.width_mm <= 216 and parsed.y_mm + parsed.height_mm <= 297
    template = TemplateIn(kind="reminder", address_position="custom", custom_address_box=parsed)
    store(template)  # DynamoDB's Decimal context refuses subnormal or over-precise floats
    stored = Template(**template.model_dump(), template_id="t1", updated_at="2026-12-02T00:00:00Z")
    for provider in ProviderName:
        assert template_problems(stored, provider)  # the banner names the coordinates


@PROPERTY
@given(
    customer=st.fixed_dictionaries(
        {"name": text},
        optional={
            "billing_address": addresses(),
            "email": st.emails(),
            "phone": st.from_regex(r"\A\+?[0-9 ()\-]{5,20}\Z"),
            "language": st.sampled_from(list(Language)),
        },
    )
)
def test_every_customer_that_validates_stores_and_renders(customer: dict[str, Any]) -> None:
    parsed = accepted(CustomerIn, customer)
    if parsed is None:
        return
    store(parsed)
    if parsed.billing_address is not None:
        # A billing address may be partial (e-mail customers); what is mailable renders.
        try:
            complete = mailable(parsed.billing_address, where="billing_address")
        except ValidationFailed:
            return
        render(DocumentKind.REMINDER, branding=BRANDING, recipient=complete, invoices=[])


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Money, {"amount": "1E+1000", "currency": "EUR"}, "amount"),
        (Money, {"amount": "1" * 42, "currency": "EUR"}, "amount"),
        (Money, {"amount": "1E+400", "currency": "EUR"}, "amount"),
        (Money, {"amount": "-1.50", "currency": "EUR"}, "amount"),
        (Money, {"amount": "1.001", "currency": "EUR"}, None),
        (Money, {"amount": "1.5", "currency": "JPY"}, None),
        (Money, {"amount": "1", "currency": "ZZZ"}, "currency"),
        (InvoiceLine, {"description": "x", "unit_price": "1E+127"}, "unit_price"),
        (Address, {"name": "a", "lines": ["b"], "city": "c", "country": "ZZ"}, "country"),
        (CustomAddressBox, {"x_mm": 5e-324, "y_mm": 40, "width_mm": 85, "height_mm": 25}, "x_mm"),
        (CustomAddressBox, {"x_mm": 200, "y_mm": 40, "width_mm": 85, "height_mm": 25}, None),
    ],
)
def test_the_values_that_broke_the_night_are_refused(
    model: type[BaseModel], data: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    if field is not None:
        assert field in {str(e["loc"][0]) for e in refused.value.errors() if e["loc"]}


def test_an_invoice_with_more_cents_than_its_currency_has_is_refused() -> None:
    data = {"customer_id": "c", "number": "1", "issue_date": "2026-11-01", "due_date": "2026-12-01"}
    assert accepted(InvoiceIn, {**data, "currency": "EUR", "open_amount": "10.005"}) is None
    assert accepted(InvoiceIn, {**data, "currency": "JPY", "open_amount": "1000.5"}) is None
    assert accepted(InvoiceIn, {**data, "currency": "KWD", "open_amount": "10.005"}) is not None
    assert accepted(InvoiceIn, {**data, "currency": "EUR", "open_amount": "1", "due_date": "9999-12-31"}) is None

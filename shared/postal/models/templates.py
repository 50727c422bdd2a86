"""Templates: what a document looks like (kind, layout, language, the address box) and its custom PDF's check."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from postal.models.common import Channel, Language, Strict


class TemplateKind(StrEnum):
    INVOICE = "invoice"
    REMINDER = "reminder"
    FINAL_NOTICE = "final_notice"
    PAYMENT_PLAN_REMINDER = "payment_plan_reminder"
    LETTER = "letter"


class Layout(StrEnum):
    STANDARD = "standard"
    CUSTOM = "custom"


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

"""Page 1: the sender header, the return-address line and the recipient address in the window."""

from __future__ import annotations

from io import BytesIO

from postal.documents import i18n
from postal.documents.address_format import country_language, country_name, sender_lines
from postal.documents.render.layout import _Layout, _Line
from postal.documents.render.request import (
    ADDRESS_INSET,
    ADDRESS_LEADINGS,
    ADDRESS_MAX_PT,
    ADDRESS_MIN_PT,
    DESCENT,
    LOGO_MM,
    MARGIN_X,
    RETURN_LINE_SIZES,
    SENDER_NAME_SIZES,
    SENDER_PT,
    _logo_png,
)
from postal.documents.zones import MM_PER_PT
from postal.errors import ValidationFailed


class _FirstPage(_Layout):
    """The first page's fixed parts, placed around the window standard's zones."""

    def first_page(self, address: list[_Line]) -> None:
        self.pdf.add_page()
        header_bottom = self.header()
        self.return_line()
        self.draw(address)
        # The body starts below everything the window standard reserves in the top half of page 1 (the bottom
        # half only has footer-level zones such as Pingen's bottom-left square, which the margins avoid).
        top_half = [r.y1 for r in self._blocked() if r.y0 < self.height / 2]
        self.y = max([*top_half, self.zone.body_min_y or 0.0, header_bottom]) + 8.0
        title = i18n.TITLES[self.lang].get(self.request.kind.value)
        if title:
            self.line(title, size=14, bold=True)
            self.y += 1.0
        branding, labels = self.request.branding, self.labels
        customer_numbers = list(dict.fromkeys(i.customer_number for i in self.request.invoices if i.customer_number))
        rows = [(labels["date"], i18n.day(self.request.document_date, self.lang, long=True))]
        if customer_numbers:
            rows.append((labels["customer_number"], ", ".join(customer_numbers)))
        if branding.vat_number:
            rows.append((labels["our_vat"], branding.vat_number))
        if branding.contact_name:
            rows.append((labels["contact"], branding.contact_name))
        if branding.contact_phone:
            rows.append((labels["phone"], branding.contact_phone))
        if branding.contact_email:
            rows.append((labels["email"], branding.contact_email))
        self.meta(rows)
        self.y += 3.0

    def _sender_rows(self) -> list[str]:
        sender = self.request.branding.sender_address
        if sender is None:
            return []
        rows = [line.text for line in sender_lines(sender)]
        if self.abroad:
            rows.append(country_name(sender.country, country_language(sender.country, self.lang)))
        return rows

    def _sender_block(self, left: float, right: float, top: float) -> tuple[list[_Line], float]:
        """The organisation's name and address laid out in the column `left`..`right`; returns its bottom."""
        width = right - left
        y = top + (LOGO_MM + 1.5 if self.request.branding.logo_png_base64 else 0.0)
        out: list[_Line] = []
        size, name_lines = self.fit(self.request.branding.name, width, SENDER_NAME_SIZES, bold=True)
        rows = [(s, size, True) for s in name_lines]
        self.font(SENDER_PT)
        rows += [(s, SENDER_PT, False) for row in self._sender_rows() for s in self.wrap(row, width)]
        for s, size, bold in rows:
            baseline = y + size * MM_PER_PT
            out.append(_Line(left, baseline, size, bold, s))
            y = baseline + size * MM_PER_PT * 0.45
        return out, out[-1].baseline + DESCENT * out[-1].size * MM_PER_PT

    def _sender_columns(self) -> list[tuple[float, float, float]]:
        """The right and the left half of the top of page 1, each kept 5 mm from the window standard's zones
        beside it: (left, right, lowest y the block may reach); a column right above a zone comes last."""
        mid = self.width / 2
        top_zones = [r for r in self._blocked() if r.y0 < self.height / 2]
        right_start = max([mid + 5.0, *(r.x1 + 5.0 for r in top_zones if mid - 5.0 < r.x1 < self.right - 55.0)])
        left_end = min([mid - 5.0, *(r.x0 - 5.0 for r in top_zones if MARGIN_X + 55.0 < r.x0 < mid + 5.0)])
        out = []
        for left, right in ((right_start, self.right), (MARGIN_X, left_end)):
            below = [r.y0 for r in top_zones if r.x0 < right and r.x1 > left]
            out.append((left, right, min([*below, self.height / 2]) - 2.0))
        # Right above the window the sender's block would read as the recipient's (NF Z 11-001): last resort.
        return sorted(out, key=lambda column: column[2] < self.height / 2 - 2.0)

    def header(self) -> float:
        """Logo, organisation name and sender address (with its country on mail abroad) at the top of page 1, in
        the first column clear of the window standard's zones; returns the block's bottom."""
        top = self.edge + 2.0
        for left, right, limit in self._sender_columns():
            lines, bottom = self._sender_block(left, right, top)
            if bottom <= limit:
                break
        else:
            raise ValidationFailed(
                f"the sender name and address do not fit above the {self.zone.id} window",
                code="sender_does_not_fit",
                details={"zone_id": self.zone.id},
                fix="shorten the branding name or the sender address lines",
            )
        logo = self.request.branding.logo_png_base64
        if logo:
            data, ratio = _logo_png(logo)
            w = min(right - left, LOGO_MM * ratio)  # a wide logo is scaled down to the column, never past it
            self.pdf.image(BytesIO(data), x=left, y=top, w=w, h=w / ratio)
        self.draw(lines)
        return bottom

    def return_line(self) -> None:
        """The sender's return address at the bottom of the zone's return/remark area (DIN 5008): one line,
        shrunk to 6 pt, then with the country abbreviated, then without the street; only then on two lines."""
        rect = self.zone.return_line
        sender = self.request.branding.sender_address
        if rect is None or sender is None:
            return
        local = sender_lines(sender)
        name = self.request.branding.name
        street = [line.text for line in local if line.fields[0].startswith("lines[")]
        postal = [line.text for line in local if not line.fields[0].startswith("lines[")]
        country = [self._sender_rows()[-1]] if self.abroad else []
        code = [sender.country] if self.abroad else []
        x, width = self.zone.text_x, rect.x1 - self.zone.text_x
        smallest = RETURN_LINE_SIZES[-1]
        tries = [([name, *street, *postal, *country], size) for size in RETURN_LINE_SIZES]
        tries += [([name, *street, *postal, *code], smallest), ([name, *postal, *code], smallest)]
        for parts, size in tries:
            s = " · ".join(parts)
            if self.width_at(s, size) <= width:
                self.text(x, rect.y1 - 1.5, s)
                return
        # written from the bottom up, as DIN 5008 fills the return/remark zone
        lines = self.wrap(" · ".join(tries[-1][0]), width)
        step = smallest * MM_PER_PT * 1.2
        for i, s in enumerate(reversed(lines)):
            self.text(x, rect.y1 - 1.5 - i * step, s)

    def plan_address(self, lines: list[str]) -> list[_Line]:
        """The recipient block placed in the window, largest size and loosest leading first; refused (naming the
        line) when it fits at no size."""
        zone = self.zone
        rect = zone.address
        width = rect.x1 - zone.text_x
        for size in (ADDRESS_MAX_PT, 9.0, ADDRESS_MIN_PT):
            self.font(size)
            if max(self.string_width(s) for s in lines) > width:
                continue
            size_mm = size * MM_PER_PT
            for leading in ADDRESS_LEADINGS:
                step = size_mm * leading
                first = rect.y0 + ADDRESS_INSET + size_mm  # line top = baseline - font size
                if first + (len(lines) - 1) * step + DESCENT * size_mm <= rect.y1 - ADDRESS_INSET:
                    return [_Line(zone.text_x, first + i * step, size, False, s) for i, s in enumerate(lines)]
        self.font(ADDRESS_MIN_PT)
        widths = [self.string_width(s) for s in lines]
        widest = max(range(len(lines)), key=widths.__getitem__)
        if widths[widest] > width:
            message = (
                f"address line {widest + 1} ('{lines[widest]}') is {widths[widest]:.1f} mm wide at"
                f" {ADDRESS_MIN_PT:g} pt; the {zone.id} window gives {width:.1f} mm"
            )
            details = {"zone_id": zone.id, "line": widest + 1, "problem": "line_too_wide",
                       "width_mm": round(widths[widest], 1), "max_width_mm": round(width, 1)}  # fmt: skip
        else:
            message = f"the address has {len(lines)} lines; the {zone.id} window holds fewer at {ADDRESS_MIN_PT:g} pt"
            details = {"zone_id": zone.id, "lines": len(lines), "problem": "too_many_lines"}
        raise ValidationFailed(
            message,
            code="address_does_not_fit",
            details=details,
            fix="shorten the address lines (abbreviate the street or company name) or drop the company line",
        )

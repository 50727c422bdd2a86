"""Tables and summaries: columns as wide as their content, a header repeated on each page."""

from __future__ import annotations

from postal.documents.render.first_page import _FirstPage
from postal.documents.render.layout import _Column
from postal.documents.render.request import BODY_PT, COLUMN_GAP, FLEX_MIN_MM, LEADING, LINE_MM, MARGIN_X, TABLE_SIZES
from postal.documents.zones import MM_PER_PT
from postal.errors import ValidationFailed
from postal.models import Money


class _Tables(_FirstPage):
    """Meta rows, tables, totals lines and the paper-invoice fee."""

    def _table_widths(self, columns: list[_Column], rows: list[list[str]], size: float) -> list[float] | None:
        """Column widths at `size`: fixed columns as wide as their widest cell (headers wrap at word breaks),
        the flex column the rest; None when the flex column would be narrower than its minimum."""
        widths: list[float] = []
        for i, col in enumerate(columns):
            if col.flex:
                widths.append(0.0)
                continue
            self.font(size)
            cells = max((self.string_width(r[i]) for r in rows), default=0.0)
            self.font(size, bold=True)
            word = max(self.string_width(w) for w in col.label.split())
            whole = self.string_width(col.label)
            # A header up to 8 mm wider than its cells widens the column; a longer one wraps at its word breaks.
            narrow = max(cells, word)
            widths.append(max(narrow, whole) if whole <= narrow + 8.0 else narrow)
        flex = self.right - MARGIN_X - sum(widths) - COLUMN_GAP * (len(columns) - 1)
        if flex < FLEX_MIN_MM:
            return None
        return [flex if col.flex else w for col, w in zip(columns, widths, strict=True)]

    def table(self, columns: list[_Column], rows: list[list[str]]) -> tuple[float, float]:
        """A table with measured columns and wrapping cells; its header repeats on every page it runs onto.
        Returns the left and right edge of its last column (for the summary lines under it)."""
        widths: list[float] | None = None
        for size in TABLE_SIZES:
            widths = self._table_widths(columns, rows, size)
            if widths is not None:
                break
        if widths is None:
            # Only with labels or cells far beyond the models' bounds: say so rather than overprint.
            raise ValidationFailed("a table's columns do not fit the page width", code="table_does_not_fit")
        lefts = [MARGIN_X + sum(widths[:i]) + COLUMN_GAP * i for i in range(len(columns))]
        step = size * MM_PER_PT * LEADING

        def cells(texts: list[str], bold: bool) -> list[list[str]]:
            self.font(size, bold=bold)
            return [self.wrap(t, w) if t else [""] for t, w in zip(texts, widths, strict=True)]

        def draw_row(wrapped: list[list[str]], bold: bool) -> None:
            self.font(size, bold=bold)
            base = self.y + size * MM_PER_PT
            for col, left, w, lines in zip(columns, lefts, widths, wrapped, strict=True):
                for i, s in enumerate(lines):
                    x = left + w - self.string_width(s) if col.align == "R" else left
                    self.text(x, base + i * step, s)
            self.y += max(len(lines) for lines in wrapped) * step

        header = cells([c.label for c in columns], bold=True)
        header_h = max(len(lines) for lines in header) * step + 2.5

        def draw_header() -> None:
            draw_row(header, bold=True)
            self.y += 0.5
            self.rule()

        first = cells(rows[0], bold=False) if rows else [[""]]
        self.need(header_h + max(len(lines) for lines in first) * step)
        draw_header()
        for row in rows:
            wrapped = cells(row, bold=False)
            if self.need(max(len(lines) for lines in wrapped) * step):
                draw_header()
            draw_row(wrapped, bold=False)
        self.y += 1.0
        self.rule()
        return lefts[-1], lefts[-1] + widths[-1]

    def summary(self, column: tuple[float, float], label: str, value: str, *, bold: bool = False) -> None:
        """A total under a table: the value right-aligned under the last column, its label right-aligned left
        of it (wrapping if it must)."""
        self.font(BODY_PT, bold=bold)
        value_w = self.string_width(value)
        label_right = min(column[0], self.right - value_w) - COLUMN_GAP
        labels = self.wrap(label, label_right - MARGIN_X)
        self.need(len(labels) * LINE_MM)
        base = self.y + BODY_PT * MM_PER_PT
        for i, s in enumerate(labels):
            self.text(label_right - self.string_width(s), base + i * LINE_MM, s)
        self.text(self.right - value_w, base, value)
        self.y += len(labels) * LINE_MM

    def fee(self, currency: str) -> Money | None:
        fee = self.request.paper_invoice_fee
        if fee is not None and fee.currency != currency:
            raise ValidationFailed(
                f"paper invoice fee is in {fee.currency} but the document is in {currency}",
                code="mixed_currencies",
                details={"fee_currency": fee.currency, "currency": currency},
            )
        return fee

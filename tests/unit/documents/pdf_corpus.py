"""Good and bad PDFs built in memory for the template check (no binary fixtures in the repo).

Geometry matches the `pingen-left` zone: window x 22-107.5 x y 60-85.5 mm, franking 20-109.5 x 40-60 mm, 5 mm border.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, RectangleObject, TextStringObject

from postal.documents.preview import png_rgb

# The TTF the service ships (not the machine's), so the corpus builds on any machine.
DEJAVU = str(Path(__file__).resolve().parents[3] / "shared" / "postal" / "documents" / "fonts" / "DejaVuSans.ttf")
ADDRESS = ["Muster AG", "Frau Erika Müller", "Bahnhofstrasse 12", "8001 Zürich"]
ADDRESS_X_MM = 24.0
GOOD_ADDRESS_TOP_MM = 62.0
FONT_PT = 10
LINE_MM = 4.5
PT_MM = 25.4 / 72


def _png(width: int, height: int, grey: int = 90) -> bytes:
    return png_rgb(width, height, bytes([grey]) * (width * height * 3))


def letter(
    *,
    address_top_mm: float = GOOD_ADDRESS_TOP_MM,
    core_font: bool = False,
    pages: int = 1,
    paper: str = "A4",
    compress: bool = True,
    extra: Callable[[FPDF], object] | None = None,
    footer_baseline_mm: float = 285.0,
    address: list[str] = ADDRESS,
) -> bytes:
    """A one-or-more-page fpdf2 letter; the first address line's top (baseline - font size) is at `address_top_mm`;
    `address` is what its window shows."""
    pdf = FPDF(orientation="P", unit="mm", format=paper)
    pdf.set_compression(compress)
    pdf.set_auto_page_break(False)
    if core_font:
        family = "Helvetica"
    else:
        pdf.add_font("DejaVu", fname=DEJAVU)
        family = "DejaVu"
    for number in range(pages):
        pdf.add_page()
        pdf.set_font(family, size=FONT_PT)
        if number == 0:
            pdf.text(130, 20, "Sender GmbH, Weg 1, 3000 Bern")
            baseline = address_top_mm + FONT_PT * PT_MM
            for i, line in enumerate(address if not core_font else [a.replace("ü", "ue") for a in address]):
                pdf.text(ADDRESS_X_MM, baseline + i * LINE_MM, line)
        for i in range(30):
            pdf.text(25, 105 + i * 5.5, f"Body line {i + 1} of page {number + 1}: invoice text and amounts.")
        pdf.text(25, footer_baseline_mm, f"Page {number + 1} of {pages}")
        if number == 0 and extra is not None:
            extra(pdf)
    return bytes(pdf.output())


def letter_with_footer_at(pages: int, baseline_mm: float) -> bytes:
    """Every page's footer on `baseline_mm` (294: inside Pingen's 5 mm border)."""
    return letter(pages=pages, footer_baseline_mm=baseline_mm)


def good_letter() -> bytes:
    return letter()


@cache
def good_letter_cached() -> bytes:
    """The same bytes as `good_letter`, built once (fpdf2 parses the TTF on every document)."""
    return good_letter()


def ten_page_letter() -> bytes:
    return letter(pages=10)


def reportlab_letter(address: list[str] = ADDRESS) -> bytes:
    """The good letter from a second generator (reportlab, embedded TrueType subset, y-up coordinates)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVuRL", DEJAVU))
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont("DejaVuRL", FONT_PT)
    height_pt = A4[1]
    for i, line in enumerate(address):
        baseline_mm = GOOD_ADDRESS_TOP_MM + FONT_PT * PT_MM + i * LINE_MM
        c.drawString(ADDRESS_X_MM / PT_MM, height_pt - baseline_mm / PT_MM, line)
    c.drawString(25 / PT_MM, height_pt - 110 / PT_MM, "Body text of the letter.")
    c.showPage()
    c.save()
    return buf.getvalue()


def address_too_high(mm: float = 7.0) -> bytes:
    """The address block starts `mm` above the window (60 mm)."""
    return letter(address_top_mm=60.0 - mm)


def text_in_franking_zone() -> bytes:
    return letter(extra=lambda pdf: pdf.text(30, 50, "Return: Sender GmbH"))


def image_in_clear_zone() -> bytes:
    return letter(extra=lambda pdf: pdf.image(BytesIO(_png(8, 8)), x=60, y=45, w=10, h=10))


def rectangle_in_clear_zone() -> bytes:
    return letter(extra=lambda pdf: pdf.rect(40, 42, 30, 10))


def link_in_border() -> bytes:
    return letter(extra=lambda pdf: pdf.link(1, 150, 3, 5, "https://example.com"))


def core_font_letter() -> bytes:
    return letter(core_font=True)


def letter_size() -> bytes:
    return letter(paper="Letter")


def _rewrite(data: bytes, change: Callable[[PdfWriter], object]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(BytesIO(data)))
    change(writer)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def rotated() -> bytes:
    return _rewrite(good_letter_cached(), lambda w: w.pages[0].rotate(90))


def cropbox_mismatch() -> bytes:
    def crop(writer: PdfWriter) -> None:
        writer.pages[0].cropbox = RectangleObject([20, 20, 575.28, 821.89])

    return _rewrite(good_letter_cached(), crop)


def javascript() -> bytes:
    """A document-level /OpenAction script (pypdf 7 removed `add_js`, so the action is written by hand)."""

    def add(writer: PdfWriter) -> None:
        action = DictionaryObject(
            {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('hello');")}
        )
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)

    return _rewrite(good_letter_cached(), add)


def acroform() -> bytes:
    """A reportlab letter with a text field in the body: /AcroForm plus a widget annotation."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.acroForm.textfield(name="amount", x=100, y=300, width=150, height=20)
    c.showPage()
    c.save()
    return buf.getvalue()


def encrypted() -> bytes:
    def lock(writer: PdfWriter) -> None:
        writer.encrypt("secret", algorithm="AES-128")

    return _rewrite(good_letter_cached(), lock)


def no_pages() -> bytes:
    out = BytesIO()
    PdfWriter().write(out)
    return out.getvalue()


def many_pages(n: int = 500) -> bytes:
    writer = PdfWriter()
    for _ in range(n):
        writer.add_blank_page(width=595.28, height=841.89)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def oversized(size: int = 50 * 1024 * 1024) -> bytes:
    """A valid header and padding: the size gate must fire before any parsing."""
    head = b"%PDF-1.7\n"
    return head + b"\0" * (size - len(head))


def not_a_pdf() -> bytes:
    return _png(4, 4)


def truncated() -> bytes:
    data = good_letter_cached()
    return data[: len(data) // 3]


def corrupt_xref() -> bytes:
    """Every xref offset points somewhere wrong; pypdf may rebuild the table by scanning for objects."""
    data = letter(compress=False)
    start = data.rindex(b"\nxref")
    # In-use entries are "oooooooooo ggggg n"; shift each 10-digit offset by 7 bytes.
    lines = data[start:].split(b"\n")
    broken = [b"%010d" % (int(line[:10]) + 7) + line[10:] if line.rstrip().endswith(b" n") else line for line in lines]
    return data[:start] + b"\n".join(broken)


def scanned() -> bytes:
    """A page that is one big picture: the address is pixels, not text."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    pdf.image(BytesIO(_png(60, 85, grey=200)), x=0, y=0, w=210, h=297)
    return bytes(pdf.output())


def raw_pdf(
    content: bytes, resources: bytes = b"<< >>", extra_objects: list[bytes] | None = None, flate: bool = False
) -> bytes:
    """A hand-written one-page A4 PDF: `content` is the page's content stream (deflated if `flate`)."""
    stream_dict = b"<< /Length %d >>"
    if flate:
        content = zlib.compress(content, 9)
        stream_dict = b"<< /Length %d /Filter /FlateDecode >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources " + resources + b" /Contents 4 0 R >>",
        stream_dict % len(content) + b"\nstream\n" + content + b"\nendstream",
        *(extra_objects or []),
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def form_without_resources_in_franking() -> bytes:
    """A Form XObject with no /Resources, moved by its /Matrix into the franking zone (x 20-109.5, y 40-60 mm).

    pypdf's text extraction does not descend into such a form, yet it paints a filled square at
    x 170-180 pt, y-up 685-695 pt + 0 (page), i.e. about x 60-63.5 mm, y 51.4-55 mm.
    """
    form = b"0 0 10 10 re f"
    return raw_pdf(
        b"q 1 0 0 1 170 685 cm /Fx Do Q",
        resources=b"<< /XObject << /Fx 5 0 R >> >>",
        extra_objects=[
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Matrix [1 0 0 1 0 0] /Length %d >>\n"
            b"stream\n" % len(form) + form + b"\nendstream"
        ],
    )


def huge_content_stream(mb: int = 40) -> bytes:
    """A page whose content stream inflates to `mb` MB of path operators (a zip bomb for the parser)."""
    return raw_pdf(b"0 0 m 1 1 l S\n" * (mb * 1024 * 1024 // 14), flate=True)


def many_operations(n: int = 280_000) -> bytes:
    """A page of `n` path operations (issue 9: 8 KB compressed; the old interpreter took 9-18 s to refuse it)."""
    # Varied coordinates, so the stream compresses like the sample (about 8 KB) rather than to 3 KB.
    return raw_pdf(b"".join(b"%d %d m %d %d l S\n" % (i % 11, i % 7, i % 5, i % 3) for i in range(n // 3)), flate=True)


def slow_to_render(fills: int = 120_000) -> bytes:
    """Under the operation gate (240k operations) but slow to paint: `fills` full-page grey rectangles, more than a
    second of rasterising at 72 dpi. Only the CPU budget can stop it."""
    return raw_pdf(b"0.9 g " + b"0 0 595 842 re f\n" * fills, flate=True)


def address_in_form_xobject() -> bytes:
    """The address drawn inside a Form XObject: page `cm` (10 pt right) composed with the form's /Matrix.

    The baseline lands at x 68 pt = 24.0 mm and y-up 640 pt = 71.2 mm from the top; the font (core Helvetica)
    lives only in the form's resources.
    """
    form = b"BT /F1 10 Tf 0 0 Td (Erika Muster) Tj ET"
    return raw_pdf(
        b"q 1 0 0 1 10 0 cm /Fx Do Q",
        resources=b"<< /XObject << /Fx 5 0 R >> >>",
        extra_objects=[
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 200 20] /Matrix [1 0 0 1 58 640] "
            b"/Resources << /Font << /F1 6 0 R >> >> /Length %d >>\nstream\n" % len(form) + form + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ],
    )

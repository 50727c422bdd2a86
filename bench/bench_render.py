"""Benchmark: one-page Unicode payment reminder, warm process.

Renders the same letter with (a) naive fpdf2 (`add_font` per document), (b) `render_document`, (c) reportlab with
the same TTF registered once (peer, bench only), interleaved round-robin so drift hits all three alike; then
letters per second per core for render + S3 put (moto, in-process, SSE). Run from the repo root:

    .venv/bin/python -m bench.bench_render [iterations]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))

from fpdf import FPDF  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from postal.documents.fonts import FONT_DIR, warm_up  # noqa: E402
from postal.documents.render import DocumentKind, DocumentRequest, render_document  # noqa: E402
from postal.models import Address, Branding, Invoice, InvoiceLine, Language  # noqa: E402

REGULAR = FONT_DIR / "DejaVuSans.ttf"
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

REQUEST = DocumentRequest(
    kind=DocumentKind.REMINDER,
    language=Language.NL,
    zone_id="pingen-left",
    branding=Branding(
        name="Ĳsselmonde Diensten B.V.",
        sender_address=Address(
            name="Ĳsselmonde Diensten", lines=["Havenstraat 1"], postal_code="3011 AB", city="Rotterdam", country="NL"
        ),
        iban="NL91ABNA0417164300",
        bic="ABNANL2A",
        footer="KvK 12345678 · btw NL001234567B01",
    ),
    recipient=Address(
        name="Łukasz Müller",
        company="Françoise & Øre GmbH",
        lines=["Hauptstraße 5"],
        postal_code="10115",
        city="Berlin",
        country="DE",
    ),
    invoices=[
        Invoice(
            invoice_id="inv-1",
            customer_id="cus-1",
            number="2025-0042",
            issue_date=date(2025, 1, 10),
            due_date=date(2025, 2, 10),
            open_amount=Decimal("1234.50"),
            payment_reference="RF18539007547034",
            lines=[
                InvoiceLine(description="Advies", quantity=Decimal(2), unit_price=Decimal(500), vat_rate=Decimal(21))
            ],
        )
    ],
    document_date=date(2025, 3, 1),
)

# The same visible text for the two peers: header, address, title, intro, one table row, total, footer.
LINES = [
    (10.0, 12, True, "Ĳsselmonde Diensten B.V."),
    (22.0, 63, False, "Françoise & Øre GmbH"),
    (22.0, 67, False, "Łukasz Müller"),
    (22.0, 71, False, "Hauptstraße 5"),
    (22.0, 75, False, "10115 Berlin"),
    (22.0, 79, False, "DUITSLAND"),
    (20.0, 100, True, "Betalingsherinnering"),
    (20.0, 106, False, "Datum: 1 maart 2025"),
    (20.0, 114, False, "Volgens onze administratie zijn onderstaande facturen nog niet betaald."),
    (20.0, 120, False, "2025-0042    10 jan 2025    10 feb 2025    € 1.234,50"),
    (20.0, 126, True, "Totaal openstaand € 1.234,50"),
    (20.0, 280, False, "Ĳsselmonde Diensten B.V. · IBAN NL91 ABNA 0417 1643 00 · BIC ABNANL2A"),
]


def naive_fpdf2() -> bytes:
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("dejavu", "", REGULAR)
    pdf.add_font("dejavu", "B", BOLD)
    pdf.add_page()
    for x, y, bold, text in LINES:
        pdf.set_font("dejavu", "B" if bold else "", 10)
        pdf.text(x, y, text)
    return bytes(pdf.output())


def ours() -> bytes:
    return render_document(REQUEST).pdf


def reportlab_peer() -> bytes:
    out = BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    mm = 72 / 25.4
    for x, y, bold, text in LINES:
        c.setFont("DejaVuSans-Bold" if bold else "DejaVuSans", 10)
        c.drawString(x * mm, A4[1] - y * mm, text)
    c.showPage()
    c.save()
    return out.getvalue()


def measure(fns: dict[str, Callable[[], bytes]], iterations: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(iterations):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def s3_throughput(seconds: float = 3.0) -> tuple[float, float]:
    """Letters per second on one core: render + put_object (SSE) to moto's in-process S3; also the put share."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="letters", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket="letters", Key="warm", Body=b"x", ServerSideEncryption="AES256")
        count, put_time = 0, 0.0
        end = time.perf_counter() + seconds
        start_cpu = time.process_time()
        while time.perf_counter() < end:
            pdf = ours()
            t = time.perf_counter()
            s3.put_object(
                Bucket="letters",
                Key=f"l/{count}.pdf",
                Body=pdf,
                ContentType="application/pdf",
                ServerSideEncryption="AES256",
            )
            put_time += time.perf_counter() - t
            count += 1
        cpu = time.process_time() - start_cpu
    return count / cpu, put_time / count * 1000


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(REGULAR)))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(BOLD)))
    warm_up()
    fns = {
        "fpdf2 naive (add_font per doc)": naive_fpdf2,
        "render_document (ours)": ours,
        "reportlab (peer)": reportlab_peer,
    }
    measure(fns, 5)  # warm-up: imports, caches, first-use allocations
    times = measure(fns, iterations)
    peer = statistics.median(times["reportlab (peer)"])
    print(f"one-page Unicode reminder, warm, {iterations} interleaved iterations each")
    print(f"{'renderer':34} {'median ms':>10} {'p95 ms':>8} {'vs reportlab':>13}")
    for name in fns:
        med = statistics.median(times[name])
        print(f"{name:34} {med:10.2f} {p95(times[name]):8.2f} {med / peer:12.2f}x")
    print(f"size: ours {len(ours()):,} B, reportlab {len(reportlab_peer()):,} B, naive {len(naive_fpdf2()):,} B")
    rate, put_ms = s3_throughput()
    print(f"render + S3 put (moto, SSE): {rate:.0f} letters/s per core (put ~{put_ms:.2f} ms each)")


if __name__ == "__main__":
    main()

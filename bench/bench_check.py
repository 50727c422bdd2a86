"""Benchmark the template check and the preview: `.venv/bin/python -m bench.bench_check` from the repo root.

Target (address-geometry.md §3): pypdf check of a letter, median ≤ 10 ms. Prints median and p95 per case.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from postal.documents.check import check_pdf  # noqa: E402 -- after the path setup, as under pytest
from postal.documents.preview import render_preview_png  # noqa: E402
from postal.documents.zones import get_zone  # noqa: E402
from tests.unit.documents import pdf_corpus  # noqa: E402

TARGET_MEDIAN_MS = 10.0


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm-up: imports, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def main() -> int:
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    zone = get_zone("pingen-left")
    one_page = pdf_corpus.good_letter()
    ten_pages = pdf_corpus.ten_page_letter()
    reportlab = pdf_corpus.reportlab_letter()
    result = check_pdf(one_page, zone)
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("check_pdf, 1-page letter", lambda: check_pdf(one_page, zone), 200),
        ("check_pdf, 10-page letter", lambda: check_pdf(ten_pages, zone), 200),
        ("check_pdf, reportlab letter", lambda: check_pdf(reportlab, zone), 200),
        ("preview PNG, 72 dpi", lambda: render_preview_png(one_page, zone, result, dpi=72), 30),
        ("preview PNG, 150 dpi", lambda: render_preview_png(one_page, zone, result, dpi=150), 10),
    ]
    print(f"{'case':<30} {'runs':>5} {'median ms':>10} {'p95 ms':>8}")
    failed = False
    for name, fn, runs in cases:
        median, p95 = measure(fn, runs)
        print(f"{name:<30} {runs:>5} {median:>10.2f} {p95:>8.2f}")
        if name.startswith("check_pdf") and median > TARGET_MEDIAN_MS:
            failed = True
    print(f"target: check_pdf median <= {TARGET_MEDIAN_MS:.0f} ms -> {'MISSED' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

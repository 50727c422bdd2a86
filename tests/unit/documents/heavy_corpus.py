"""`make corpus`: PDFs from the heavy producers (Ghostscript, LibreOffice, Chromium's print-to-PDF), written to
`tests/corpus/` with a `manifest.json` of expected verdicts that `test_check_producers.py` checks when the folder
exists.

Where a fix is expected, its distance comes from Ghostscript's `bbox` device (the ink box of a page that holds only
the address), not from the check. Run: `python -m tests.unit.documents.heavy_corpus [out_dir]`.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PT_MM = 25.4 / 72
A4_PT = (595.2756, 841.8898)
OUT = Path(__file__).resolve().parents[2] / "corpus"
ADDRESS = ["Muster AG", "Frau Erika Mueller", "Bahnhofstrasse 12", "8001 Zuerich"]
HIRES = re.compile(r"%%HiResBoundingBox: ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)")


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=180)


def ink_box_mm(pdf: Path) -> tuple[float, float, float, float]:
    """Ghostscript's bbox device: the ink of page 1 as (x0, x1, y0, y1) mm from the top-left."""
    done = subprocess.run(
        ["gs", "-q", "-dBATCH", "-dNOPAUSE", "-dLastPage=1", "-sDEVICE=bbox", str(pdf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    match = HIRES.search(done.stderr)
    assert match, done.stderr
    x0, y0, x1, y1 = (float(v) for v in match.groups())
    return x0 * PT_MM, x1 * PT_MM, (A4_PT[1] - y1) * PT_MM, (A4_PT[1] - y0) * PT_MM


def _up(mm: float) -> float:
    return max(0.1, math.ceil(round(mm * 10, 1)) / 10)


# ------------------------------------------------------------------------------------------------ Ghostscript


def postscript_letter(top_baseline_mm: float, body: bool = True) -> str:
    """A hand-written PostScript letter in Helvetica (Ghostscript embeds its URW clone)."""
    lines = [
        "%!PS",
        f"<< /PageSize [{A4_PT[0]} {A4_PT[1]}] >> setpagedevice",
        "/Helvetica findfont 10 scalefont setfont",
    ]
    for i, line in enumerate(ADDRESS):
        y = A4_PT[1] - (top_baseline_mm + i * 4.5) / PT_MM
        lines.append(f"{24 / PT_MM:.3f} {y:.3f} moveto ({line}) show")
    if body:
        lines.append("/Helvetica findfont 9 scalefont setfont")
        for i in range(20):
            y = A4_PT[1] - (110 + i * 5) / PT_MM
            lines.append(f"{25 / PT_MM:.3f} {y:.3f} moveto (Body line {i + 1}: the letter text continues.) show")
    lines.append("showpage")
    return "\n".join(lines) + "\n"


def ghostscript(out: Path, work: Path) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    sys.path[:0] = [str(Path(__file__).resolve().parents[3] / "shared"), str(Path(__file__).resolve().parents[3])]
    from tests.unit.documents import pdf_corpus

    source = work / "fpdf2.pdf"
    source.write_bytes(pdf_corpus.good_letter())
    _run(
        "gs",
        "-q",
        "-dBATCH",
        "-dNOPAUSE",
        "-sDEVICE=pdfwrite",
        f"-sOutputFile={out / 'gs-redistilled.pdf'}",
        str(source),
    )
    entries.append({"file": "gs-redistilled.pdf", "producer": "ghostscript", "zone_id": "pingen-left", "codes": []})

    # Ghostscript embeds the standard 14 fonts only when asked (/prepress); by default the file says 'Helvetica'.
    for name, baseline, body, settings in (
        ("gs-postscript-good.pdf", 66.0, True, "/prepress"),
        ("gs-postscript-default-settings.pdf", 66.0, True, "/default"),
        ("gs-postscript-too-low.pdf", 80.0, False, "/prepress"),
    ):
        ps = work / (name + ".ps")
        ps.write_text(postscript_letter(baseline, body))
        _run(
            "gs", "-q", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", f"-dPDFSETTINGS={settings}",
            f"-sOutputFile={out / name}", str(ps),
        )  # fmt: skip
        if body:
            codes = [] if settings == "/prepress" else ["font_not_embedded"]
            entries.append({"file": name, "producer": "ghostscript", "zone_id": "pingen-left", "codes": codes})
        else:
            _, _, _, bottom = ink_box_mm(out / name)
            entries.append(
                {
                    "file": name,
                    "producer": "ghostscript",
                    "zone_id": "pingen-left",
                    "codes": ["address_outside_window"],
                    "fixes": {"move_up_mm": _up(bottom - 85.5)},
                }
            )
    return entries


# ------------------------------------------------------------------------------------------------ LibreOffice


def fodt(frame_x_mm: float, frame_y_mm: float, body: bool) -> str:
    """A flat ODT letter: the address in a frame anchored to page 1, the body below the window."""
    address = "".join(f'<text:p text:style-name="A">{line}</text:p>' for line in ADDRESS)
    paragraphs = "".join(
        f"<text:p>Body line {i + 1}: the letter text continues, as written in a word processor.</text:p>"
        for i in range(20)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:font-face-decls>
  <style:font-face style:name="DejaVu Sans" svg:font-family="'DejaVu Sans'"/>
 </office:font-face-decls>
 <office:styles>
  <style:default-style style:family="paragraph">
   <style:paragraph-properties fo:margin-top="0mm" fo:margin-bottom="0mm"/>
   <style:text-properties style:font-name="DejaVu Sans" fo:font-size="10pt"/>
  </style:default-style>
  <style:style style:name="A" style:family="paragraph"><style:text-properties fo:font-size="10pt"/></style:style>
 </office:styles>
 <office:automatic-styles>
  <style:page-layout style:name="pm1"><style:page-layout-properties fo:page-width="210mm" fo:page-height="297mm"
   fo:margin-top="100mm" fo:margin-bottom="20mm" fo:margin-left="25mm" fo:margin-right="20mm"/></style:page-layout>
  <style:style style:name="fr1" style:family="graphic"><style:graphic-properties style:wrap="none"
   style:vertical-pos="from-top" style:vertical-rel="page" style:horizontal-pos="from-left"
   style:horizontal-rel="page" fo:padding="0mm" fo:border="none" draw:stroke="none" style:shadow="none"
   draw:fill="none"/></style:style>
 </office:automatic-styles>
 <office:master-styles><style:master-page style:name="Standard" style:page-layout-name="pm1"/></office:master-styles>
 <office:body><office:text>
  <draw:frame draw:style-name="fr1" draw:name="Address" text:anchor-type="page" text:anchor-page-number="1"
   svg:x="{frame_x_mm}mm" svg:y="{frame_y_mm}mm" svg:width="80mm" svg:height="22mm">
   <draw:text-box>{address}</draw:text-box></draw:frame>
  {paragraphs if body else "<text:p/>"}
 </office:text></office:body>
</office:document>
"""


def libreoffice(out: Path, work: Path) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for name, y, body in (("lo-letter-good", 62.0, True), ("lo-letter-too-high", 49.75, False)):
        src = work / f"{name}.fodt"
        src.write_text(fodt(24.0, y, body))
        _run(
            "soffice", f"-env:UserInstallation=file://{work}/lo-profile", "--headless", "--convert-to", "pdf",
            "--outdir", str(out), str(src),
        )  # fmt: skip
        pdf = out / f"{name}.pdf"
        if body:
            entries.append({"file": pdf.name, "producer": "libreoffice", "zone_id": "pingen-left", "codes": []})
        else:
            _, _, top, _ = ink_box_mm(pdf)
            entries.append(
                {
                    "file": pdf.name,
                    "producer": "libreoffice",
                    "zone_id": "pingen-left",
                    "codes": ["address_outside_window", "content_in_clear_zone"],
                    "fixes": {"move_down_mm": _up(60.0 - top)},
                }
            )
    return entries


# ------------------------------------------------------------------------------------------------ Chromium


def html_letter(left_mm: float, top_mm: float, body: bool) -> str:
    address = "<br>".join(ADDRESS)
    paragraphs = "".join(
        f"<p>Body line {i + 1}: the letter text continues, as a web page prints.</p>" for i in range(20)
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 0 }}
body {{ margin: 0; font-family: 'DejaVu Sans'; font-size: 10pt; line-height: 4.5mm }}
.address {{ position: absolute; left: {left_mm}mm; top: {top_mm}mm }}
.body {{ position: absolute; left: 25mm; top: 105mm; width: 160mm }}
</style></head><body><div class="address">{address}</div>
<div class="body">{paragraphs if body else ""}</div></body></html>"""


def chromium(out: Path, work: Path) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for name, left, body in (("chromium-good", 24.0, True), ("chromium-too-far-left", 15.25, False)):
        src = work / f"{name}.html"
        src.write_text(html_letter(left, 62.0, body))
        pdf = out / f"{name}.pdf"
        _run(
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-pdf-header-footer",
            f"--user-data-dir={work}/chromium-profile", f"--print-to-pdf={pdf}", src.as_uri(),
        )  # fmt: skip
        if body:
            entries.append({"file": pdf.name, "producer": "chromium", "zone_id": "pingen-left", "codes": []})
        else:
            x0, _, _, _ = ink_box_mm(pdf)
            entries.append(
                {
                    "file": pdf.name,
                    "producer": "chromium",
                    "zone_id": "pingen-left",
                    "codes": ["address_outside_window"],
                    "fixes": {"move_right_mm": _up(22.0 - x0)},
                }
            )
    return entries


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else OUT
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for tool, build in (("gs", ghostscript), ("soffice", libreoffice), ("chromium", chromium)):
            if shutil.which(tool) is None:
                print(f"skipped: {tool} is not installed", file=sys.stderr)
                continue
            entries += build(out, work)
    (out / "manifest.json").write_text(json.dumps(entries, indent=1) + "\n")
    print(f"{len(entries)} files in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

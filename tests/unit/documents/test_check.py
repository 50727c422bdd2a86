"""Template check against the generated corpus (pingen-left unless a test says otherwise).

Expected address boxes are glyph ink from the font file (`producers.block_box`, fontTools), not the check's own.
"""

from __future__ import annotations

import logging
import random

import pytest

from postal.documents.check import CheckResult, PdfLimits, check_pdf, read_window_address
from postal.documents.check import run as check_run
from postal.documents.zones import get_zone
from postal.errors import DomainError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from tests.unit.documents import pdf_corpus as corpus
from tests.unit.documents.producers import block_box

ZONE = get_zone("pingen-left")


@pytest.fixture(autouse=True)
def _quiet_pypdf():
    # Broken files make pypdf log a warning per repair; the assertions are what matter here.
    logging.getLogger("pypdf").setLevel(logging.ERROR)


def codes(result: CheckResult) -> list[str]:
    return [p.code for p in result.problems]


def only(result: CheckResult, code: str):
    found = [p for p in result.problems if p.code == code]
    assert len(found) == 1, result.problems
    return found[0]


def _ink(address_top_mm: float = corpus.GOOD_ADDRESS_TOP_MM):
    """The glyph ink of pdf_corpus's address block, whose first line's top (baseline - font size) is given."""
    lines = corpus.ADDRESS
    return block_box(lines, corpus.ADDRESS_X_MM, address_top_mm + corpus.FONT_PT * corpus.PT_MM)


def test_good_letter_passes_with_the_measured_address_box():
    result = check_pdf(corpus.good_letter_cached(), ZONE)
    assert result.ok, result.problems
    assert result.problems == []
    box = result.address_box_mm
    assert box is not None
    assert (box.x0, box.x1, box.y0, box.y1) == pytest.approx(tuple(_ink()), abs=0.1)
    assert [line.text for line in result.address_lines] == corpus.ADDRESS
    assert result.page_count == 1
    assert result.page_size_mm == (210.0, 297.0)
    assert result.fonts
    assert all("DejaVu" in f for f in result.fonts)
    assert result.file_size == len(corpus.good_letter_cached())


def test_second_generator_gives_the_same_address_position():
    result = check_pdf(corpus.reportlab_letter(), ZONE)
    box = result.address_box_mm
    assert box is not None
    assert (box.x0, box.x1, box.y0, box.y1) == pytest.approx(tuple(_ink()), abs=0.1)
    # reportlab always lists its default Helvetica: reported, but nothing about the geometry.
    assert codes(result) == ["font_not_embedded"]


def test_address_too_high_says_how_far_to_move_it():
    result = check_pdf(corpus.address_too_high(7.05), ZONE)
    problem = only(result, "address_outside_window")
    # The line top (baseline - 10 pt) is 7.05 mm above the window; the ink of 'M' starts 0.9 mm lower, 6.15 mm
    # above the window (a distance off the 0.1 mm grid, so the rounded-up fix is 6.2 whatever the last 0.04 mm).
    ink_top = _ink(60.0 - 7.05).y0
    assert ink_top == pytest.approx(53.85, abs=0.01)
    assert problem.measured["move_down_mm"] == 6.2
    assert "move the address block down 6.2 mm" in problem.fix
    assert "its top edge is at 53.8" in problem.fix
    assert "the window's top edge at 60 mm" in problem.fix
    # The raised lines also sit in the franking zone.
    assert only(result, "content_in_clear_zone").zone == "franking"
    assert not result.ok


@pytest.mark.parametrize(
    ("build", "kind", "box"),
    [
        # Text: 'R' starts at x 30 + its side bearing; the baseline is y 50 (a comma descends below it).
        (corpus.text_in_franking_zone, "text", (30.3, 50.4)),
        (corpus.image_in_clear_zone, "image", (60, 55)),
        # A 0.2 mm stroke around x 40-70, y 42-52: its ink starts 0.1 mm left of 40 (a 72 dpi pixel is 0.35 mm).
        (corpus.rectangle_in_clear_zone, "path", (39.9, 52.1)),
        (corpus.form_without_resources_in_franking, "form", (60, 55.3)),
    ],
)
def test_content_in_franking_zone(build, kind, box):
    result = check_pdf(build(), ZONE)
    problem = only(result, "content_in_clear_zone")
    assert problem.zone == "franking"
    assert problem.measured["kinds"] == [kind]
    # The raster is 72 dpi: positions are exact to one pixel (0.35 mm).
    assert problem.measured["box_mm"]["x0"] == pytest.approx(box[0], abs=0.4)
    assert problem.measured["box_mm"]["y1"] == pytest.approx(box[1], abs=0.4)
    assert "40-60 mm" in problem.fix


def test_link_annotation_in_border():
    problem = only(check_pdf(corpus.link_in_border(), ZONE), "content_in_clear_zone")
    assert problem.zone == "border"
    assert problem.measured["kinds"] == ["Link annotation"]
    assert problem.measured["box_mm"]["x0"] == pytest.approx(1, abs=0.05)
    assert "5 mm empty border" in problem.fix


def test_core_font_is_not_embedded():
    result = check_pdf(corpus.core_font_letter(), ZONE)
    problem = only(result, "font_not_embedded")
    assert problem.measured["font"] == "Helvetica"
    assert "Helvetica" in problem.message
    assert codes(result) == ["font_not_embedded"]


def test_a_portrait_letter_rotated_90_degrees_is_shown_landscape():
    result = check_pdf(corpus.rotated(), ZONE)
    # The page as a viewer (and a printer) shows it is landscape: that is the one problem, no address noise.
    problem = only(result, "wrong_page_size")
    assert codes(result) == ["wrong_page_size"]
    assert problem.measured == {"width_mm": 297.0, "height_mm": 210.0, "pages": [1]}
    assert "(landscape), shown rotated by 90°" in problem.message


def test_letter_paper_against_an_a4_zone():
    problem = only(check_pdf(corpus.letter_size(), ZONE), "wrong_page_size")
    assert problem.measured == {"width_mm": 215.9, "height_mm": 279.4, "pages": [1]}
    assert "A4 portrait (210 x 297 mm)" in problem.fix


def test_letter_paper_fits_a_letter_zone():
    result = check_pdf(corpus.letter_size(), get_zone("us10-double-window"))
    assert "wrong_page_size" not in codes(result)


def test_an_a4_letter_against_postgrids_us_letter_standard():
    problem = only(check_pdf(corpus.good_letter_cached(), get_zone("us10-double-window")), "wrong_page_size")
    assert problem.measured == {"width_mm": 210.0, "height_mm": 297.0, "pages": [1]}
    assert "LETTER portrait (215.9 x 279.4 mm)" in problem.fix


def test_cropbox_mismatch():
    assert "cropbox_mismatch" in codes(check_pdf(corpus.cropbox_mismatch(), ZONE))


def test_javascript():
    assert only(check_pdf(corpus.javascript(), ZONE), "javascript_present").measured["where"] == "/OpenAction"


def test_acroform_and_widget():
    result = check_pdf(corpus.acroform(), ZONE)
    wheres = {p.measured["where"] for p in result.problems if p.code == "interactive_form"}
    assert wheres == {"a form (/AcroForm)", "a form field (widget annotation)"}


def test_scanned_page_is_not_machine_readable():
    result = check_pdf(corpus.scanned(), ZONE)
    assert "address_not_machine_readable" in codes(result)
    assert "address_not_found" not in codes(result)
    assert result.address_box_mm is None


def test_the_border_is_one_problem_listing_every_page_that_touches_it():
    data = corpus.letter(pages=3)
    footer_in_border = corpus.letter_with_footer_at(pages=3, baseline_mm=294.0)
    assert check_pdf(data, ZONE).ok
    (problem,) = check_pdf(footer_in_border, ZONE).problems
    assert (problem.code, problem.zone, problem.page) == ("content_in_clear_zone", "border", 1)
    assert problem.measured["pages"] == [1, 2, 3]
    assert problem.message.endswith("(and on 2 more pages)")


def test_page_problems_on_many_pages_are_grouped():
    data = corpus.letter(pages=3, core_font=True)
    result = check_pdf(data, ZONE)
    assert codes(result) == ["font_not_embedded"]
    assert result.page_count == 3


@pytest.mark.parametrize(
    ("build", "error", "code"),
    [
        (corpus.not_a_pdf, UnsupportedMediaType, "not_a_pdf"),
        (corpus.oversized, PayloadTooLarge, "file_too_large"),
        (corpus.truncated, ValidationFailed, "pdf_unreadable"),
        (corpus.encrypted, ValidationFailed, "pdf_encrypted"),
        (corpus.no_pages, ValidationFailed, "pdf_empty"),
        (corpus.many_pages, ValidationFailed, "too_many_pages"),
        (corpus.huge_content_stream, ValidationFailed, "content_too_complex"),
    ],
)
def test_files_that_cannot_be_evaluated(build, error, code):
    with pytest.raises(error) as info:
        check_pdf(build(), ZONE)
    assert info.value.code == code
    assert info.value.fix


def test_page_limit_is_the_callers():
    data = corpus.letter(pages=3)
    with pytest.raises(ValidationFailed, match="3 pages, the limit is 2"):
        check_pdf(data, ZONE, PdfLimits(max_pages=2))
    assert check_pdf(data, ZONE, PdfLimits(max_pages=3)).ok


def test_corrupt_xref_is_repaired_or_refused():
    result: CheckResult | str
    try:
        result = check_pdf(corpus.corrupt_xref(), ZONE)
    except ValidationFailed as exc:
        result = exc.code
    # pypdf 7.1 rebuilds the table by scanning, and then the letter is as good as before; a refusal must be clean.
    assert result == "pdf_unreadable" or (isinstance(result, CheckResult) and result.ok)


@pytest.mark.parametrize("compress", [True, False])
def test_random_mutations_only_raise_domain_errors(compress):
    good = corpus.letter(compress=compress)
    rng = random.Random(20240601 + compress)
    outcomes = {"ok": 0, "problems": 0, "refused": 0}
    for _ in range(150):
        data = bytearray(good)
        mode = rng.random()
        if mode < 0.6:
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif mode < 0.8:
            start = rng.randrange(len(data))
            del data[start : start + rng.randint(1, 2000)]
        else:
            start = rng.randrange(len(data))
            data[start:start] = rng.randbytes(rng.randint(1, 200))
        try:
            result = check_pdf(bytes(data), ZONE)
        except DomainError:
            outcomes["refused"] += 1
        else:
            outcomes["ok" if result.ok else "problems"] += 1
    # The mutations must actually exercise both paths, or the test proves nothing.
    assert outcomes["refused"] > 0
    assert outcomes["ok"] + outcomes["problems"] > 0


def test_text_inside_a_form_xobject_is_placed_with_the_form_matrix():
    result = check_pdf(corpus.address_in_form_xobject(), ZONE)
    box = result.address_box_mm
    assert box is not None
    # Baseline origin x 24.0, y 71.22 mm; core Helvetica is drawn with PDFium's substitute, so the ink is
    # compared loosely: 'E' starts just right of the origin, cap height 0.72 em above the baseline.
    assert box.x0 == pytest.approx(24.0, abs=0.5)
    assert box.y0 == pytest.approx(71.22 - 0.72 * 10 * corpus.PT_MM, abs=0.3)
    assert box.y1 == pytest.approx(71.22, abs=0.3)
    # The font is found although it is declared only inside the form.
    assert codes(result) == ["font_not_embedded"]


def test_280k_operations_are_refused_as_too_complex():
    with pytest.raises(ValidationFailed) as info:
        check_pdf(corpus.many_operations(), ZONE)
    assert info.value.code == "content_too_complex"
    assert info.value.details["operations"] > 250_000


def test_a_check_over_its_cpu_budget_is_refused_as_too_complex():
    with pytest.raises(ValidationFailed) as info:
        check_pdf(corpus.ten_page_letter(), ZONE, cpu_budget_s=0.0)
    assert info.value.code == "content_too_complex"
    assert "s of CPU" in info.value.message


def test_the_cpu_budget_stops_a_page_that_is_slow_to_render(monkeypatch):
    # 240k operations pass the gate; painting 120k full-page rectangles does not fit a 0.1 s budget.
    # The stages before rendering are let off their budget checks, so that on a loaded machine the budget
    # cannot run out while reading the content: what is tested is that rendering itself is stopped.
    class RenderOnlyClock(check_run._Clock):
        def check(self, where: str) -> None:
            pass

    monkeypatch.setattr(check_run, "_Clock", RenderOnlyClock)
    with pytest.raises(ValidationFailed) as info:
        check_pdf(corpus.slow_to_render(), ZONE, cpu_budget_s=0.1)
    assert info.value.code == "content_too_complex"
    assert "rendering it needs more than 0.1 s of CPU" in info.value.message


def test_read_window_address_returns_the_printed_recipient_lines():
    window = read_window_address(corpus.good_letter_cached(), ZONE)
    assert [line.text for line in window.lines] == corpus.ADDRESS
    assert window.return_line is None
    first = window.lines[0]
    ink = block_box(corpus.ADDRESS[:1], corpus.ADDRESS_X_MM, corpus.GOOD_ADDRESS_TOP_MM + corpus.FONT_PT * corpus.PT_MM)
    assert (first.x0, first.x1, first.y0, first.y1) == pytest.approx(tuple(ink), abs=0.1)
    assert first.baseline == pytest.approx(corpus.GOOD_ADDRESS_TOP_MM + corpus.FONT_PT * corpus.PT_MM, abs=0.05)
    assert first.size_pt == pytest.approx(corpus.FONT_PT, abs=0.3)


def test_read_window_address_refuses_what_the_check_refuses():
    with pytest.raises(ValidationFailed) as info:
        read_window_address(corpus.encrypted(), ZONE)
    assert info.value.code == "pdf_encrypted"

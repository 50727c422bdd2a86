"""Template check against the generated corpus (pingen-left unless a test says otherwise)."""

from __future__ import annotations

import logging
import random

import pytest

from postal.documents.check import CheckResult, PdfLimits, check_pdf
from postal.documents.zones import get_zone
from postal.errors import DomainError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from tests.unit.documents import pdf_corpus as corpus

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


def test_good_letter_passes_with_the_measured_address_box():
    result = check_pdf(corpus.good_letter_cached(), ZONE)
    assert result.ok, result.problems
    assert result.problems == []
    box = result.address_box_mm
    assert box is not None
    # Top = first baseline - font size (spec §3); bottom = last baseline + descent.
    assert box.x0 == pytest.approx(corpus.ADDRESS_X_MM, abs=0.05)
    assert box.y0 == pytest.approx(corpus.GOOD_ADDRESS_TOP_MM, abs=0.05)
    assert 78 < box.y1 < 81
    assert result.page_count == 1
    assert result.page_size_mm == (210.0, 297.0)
    assert result.fonts
    assert all("DejaVu" in f for f in result.fonts)
    assert result.file_size == len(corpus.good_letter_cached())


def test_second_generator_gives_the_same_address_position():
    result = check_pdf(corpus.reportlab_letter(), ZONE)
    box = result.address_box_mm
    assert box is not None
    assert (box.x0, box.y0) == pytest.approx((corpus.ADDRESS_X_MM, corpus.GOOD_ADDRESS_TOP_MM), abs=0.05)
    # reportlab always lists its default Helvetica: reported, but nothing about the geometry.
    assert codes(result) == ["font_not_embedded"]


def test_address_too_high_says_how_far_to_move_it():
    result = check_pdf(corpus.address_too_high(7), ZONE)
    problem = only(result, "address_outside_window")
    assert problem.measured["move_down_mm"] == 7.0
    assert "move the address block down 7 mm" in problem.fix
    assert "starts at 53 mm" in problem.fix
    assert "starts at 60 mm" in problem.fix
    # The raised lines also sit in the franking zone.
    assert only(result, "content_in_clear_zone").zone == "franking"
    assert not result.ok


@pytest.mark.parametrize(
    ("build", "kind", "box"),
    [
        (corpus.text_in_franking_zone, "text", (30, 50.0)),
        (corpus.image_in_clear_zone, "image", (60, 55)),
        (corpus.rectangle_in_clear_zone, "path", (40, 52)),
        (corpus.form_without_resources_in_franking, "path", (60, 55.3)),
    ],
)
def test_content_in_franking_zone(build, kind, box):
    result = check_pdf(build(), ZONE)
    problem = next(p for p in result.problems if p.code == "content_in_clear_zone")
    assert problem.zone == "franking"
    assert problem.measured["kinds"] == [kind]
    assert problem.measured["box_mm"]["x0"] == pytest.approx(box[0], abs=0.2)
    assert problem.measured["box_mm"]["y1"] == pytest.approx(box[1], abs=1.0)
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


def test_rotated_page():
    problem = only(check_pdf(corpus.rotated(), ZONE), "page_rotated")
    assert problem.measured["rotate"] == 90
    assert problem.page == 1


def test_letter_paper_against_an_a4_zone():
    problem = only(check_pdf(corpus.letter_size(), ZONE), "wrong_page_size")
    assert problem.measured == {"width_mm": 215.9, "height_mm": 279.4, "pages": [1]}
    assert "A4 portrait (210 x 297 mm)" in problem.fix


def test_letter_paper_fits_a_letter_zone():
    result = check_pdf(corpus.letter_size(), get_zone("us10-double-window"))
    assert "wrong_page_size" not in codes(result)


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
    assert box.x0 == pytest.approx(24.0, abs=0.05)
    assert box.y0 == pytest.approx(71.22 - 10 * corpus.PT_MM, abs=0.05)
    # The font is found although it is declared only inside the form.
    assert codes(result) == ["font_not_embedded"]

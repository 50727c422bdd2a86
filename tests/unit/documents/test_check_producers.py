"""The check against PDFs from other producers: each file's expected verdict, fix and address box come from the
producer or the font file (see `producers.py`), never from the check itself.

`make corpus` adds Ghostscript, LibreOffice and Chromium (print-to-PDF) files to `tests/corpus/` (with
`manifest.json`); they are checked here when present.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postal.documents.check import CheckResult, check_pdf
from postal.documents.zones import get_zone
from tests.unit.documents import producers

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
CASES = producers.cases()


def _codes(result: CheckResult) -> frozenset[str]:
    return frozenset(p.code for p in result.problems)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_file_gets_its_expected_verdict_and_fix(case: producers.Case) -> None:
    result = check_pdf(case.build(), get_zone(case.zone_id))
    assert _codes(result) == case.codes, [p.message for p in result.problems]
    assert result.ok is (not case.codes)
    measured = {k: v for p in result.problems for k, v in p.measured.items()}
    for key, mm in case.fixes.items():
        assert measured.get(key) == pytest.approx(mm, abs=case.fix_tolerance + 1e-9), (key, measured)
    if case.box is not None:
        box = result.address_box_mm
        assert box is not None
        assert (box.x0, box.x1, box.y0, box.y1) == pytest.approx(tuple(case.box), abs=0.1)
    if case.lines is not None:
        assert [line.text for line in result.address_lines] == list(case.lines)


def test_at_least_four_producers_are_in_the_corpus() -> None:
    assert len({c.producer for c in CASES}) >= 4


def test_a_fix_is_never_zero_and_names_the_edge() -> None:
    result = check_pdf(producers.rl_ink_left_edge_just_outside(), get_zone("pingen-left"))
    (problem,) = [p for p in result.problems if p.code == "address_outside_window"]
    assert "move the address block right 0.1 mm" in problem.fix
    assert "left edge" in problem.fix
    assert " 0 mm" not in problem.fix


def test_a_right_window_layout_checked_against_a_left_window_standard_says_so() -> None:
    result = check_pdf(producers.fpdf_right_window(), get_zone("pingen-left"))
    (problem,) = result.problems
    assert "right-window envelope" in problem.message
    assert "pingen-left is a left-window standard" in problem.message
    assert "address_position 'right'" in problem.fix


def test_a_small_sender_line_in_the_window_is_the_return_line_not_the_recipient() -> None:
    result = check_pdf(producers.fpdf_pingen_sender_line(), get_zone("pingen-left"))
    assert result.return_line is not None
    assert result.return_line.text == "Sender GmbH · Weg 1 · 3000 Bern"
    assert result.return_line.size_pt == pytest.approx(7, abs=0.3)
    assert [line.text for line in result.address_lines] == producers.ADDRESS


def test_the_border_is_checked_on_every_page() -> None:
    result = check_pdf(producers.fpdf_footer_in_border_on_page_3(), get_zone("pingen-left"))
    (problem,) = result.problems
    assert (problem.zone, problem.page) == ("border", 3)
    assert problem.measured["pages"] == [3]
    assert problem.measured["box_mm"]["y1"] > 292


def _manifest() -> list[dict[str, object]]:
    path = CORPUS / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else []


@pytest.mark.skipif(not (CORPUS / "manifest.json").exists(), reason="run `make corpus` for the heavy producers")
@pytest.mark.parametrize("entry", _manifest(), ids=[str(e["file"]) for e in _manifest()])
def test_heavy_producer_file_gets_its_expected_verdict(entry: dict[str, object]) -> None:
    data = (CORPUS / str(entry["file"])).read_bytes()
    result = check_pdf(data, get_zone(str(entry["zone_id"])))
    assert _codes(result) == frozenset(entry["codes"]), [p.message for p in result.problems]  # type: ignore[arg-type]
    measured = {k: v for p in result.problems for k, v in p.measured.items()}
    for key, mm in dict(entry.get("fixes", {})).items():  # type: ignore[call-overload]
        assert measured.get(key) == pytest.approx(mm, abs=0.3), (key, [p.fix for p in result.problems])

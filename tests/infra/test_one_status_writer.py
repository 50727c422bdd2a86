"""Every letter status change goes through the one state machine (issue 12): read from the code itself.

- only the letters repository (`postal/store/letters.py`) writes a letter's status partition (GSI2 moves with the
  status, so writing it is writing the status);
- only `postal/letter_changes.py` applies a change (and so publishes its event);
- every named move of `postal.letters.status` is made somewhere (none is dead, none is missing from the table).

The behaviour behind it (each applied change publishes exactly one event) is checked after every integration test
by `tests/integration/conftest.py::every_status_change_is_published`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from postal.letters.status import Move

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for pkg in ("shared", "functions") for p in (ROOT / pkg).rglob("*.py") if ".aws-sam" not in p.parts)
STATUS_WRITER = ROOT / "shared/postal/store/letters.py"
READERS = {ROOT / "shared/postal/store/letter_reads.py", ROOT / "shared/postal/store/keys.py"}
APPLIER = ROOT / "shared/postal/letters/changes.py"


def _calls(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Call)]


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def test_only_the_letters_repository_writes_a_letter_status() -> None:
    writers = [
        str(p.relative_to(ROOT))
        for p in SOURCES
        if p not in READERS | {STATUS_WRITER} and any(_name(c) == "letters_by_status_gsi2" for c in _calls(p))
    ]
    assert writers == []


def test_only_letter_changes_applies_a_status_change() -> None:
    appliers = [
        f"{p.relative_to(ROOT)}:{c.lineno}"
        for p in SOURCES
        if p not in {APPLIER, STATUS_WRITER}
        for c in _calls(p)
        if _name(c) in {"apply", "apply_counted"}
    ]
    assert appliers == []


def test_every_move_is_made_somewhere() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES if p.name != "status.py")
    builders = {Move.SUBMIT: "submit(", Move.CANCEL_ON_DISCONNECT: "cancel_on_disconnect("}
    unused = [m for m in Move if f"Move.{m.name}" not in text and builders.get(m, "\0") not in text]
    assert unused == []


def test_the_checks_above_see_a_writer_that_breaks_the_rule(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("keys.letters_by_status_gsi2(org, 'sent')\nletters.apply(org, lid, change)\n", encoding="utf-8")
    assert [_name(c) for c in _calls(probe)] == ["letters_by_status_gsi2", "apply"]

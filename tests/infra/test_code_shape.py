"""The shape of the code (issue 12): no module over MAX_MODULE_LINES lines and no function over MAX_FUNCTION_LINES
lines, unless a reason is written next to it: `# shape: <why>` in a module's first lines, or on a function's `def`
line (or the line above it). Run as a script to list what is over: `python -m tests.infra.test_code_shape`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "functions", "local")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
MARK = "# shape:"


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if ".aws-sam" not in p.parts)


def _has_reason(lines: list[str], lineno: int) -> bool:
    """A reason on the def line (1-based `lineno`), on its decorators' or on the line just above them."""
    window = lines[max(0, lineno - 3) : lineno]
    return any(MARK in line for line in window)


def over_limits(path: Path, root: Path = ROOT) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    rel = path.relative_to(root)
    found = []
    if len(lines) > MAX_MODULE_LINES and not any(MARK in line for line in lines[:15]):
        found.append(f"{rel}: {len(lines)} lines (module limit {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _has_reason(lines, first) and not _has_reason(lines, node.lineno):
                found.append(f"{rel}:{node.lineno} {node.name}: {length} lines (function limit {MAX_FUNCTION_LINES})")
    return found


def all_over_limits() -> list[str]:
    return [problem for path in _sources() for problem in over_limits(path)]


# Known debt, listed by name (issue 12): none is left; anything over a limit without a reason next to it fails.
KNOWN: frozenset[str] = frozenset()  # every module is within the limits (issue 12)


def test_no_module_or_function_is_over_its_limit_without_a_reason() -> None:
    problems = [p for p in all_over_limits() if p.split(":")[0] not in KNOWN]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("sample", ["def f():\n" + "    x = 1\n" * 60, "x = 1\n" * 450])
def test_the_shape_check_finds_what_is_too_long(tmp_path: Path, sample: str) -> None:
    module = tmp_path / "probe.py"
    module.write_text(sample, encoding="utf-8")
    assert over_limits(module, tmp_path)


def test_a_written_reason_is_accepted(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("# shape: a table, read top to bottom\ndef f():\n" + "    x = 1\n" * 60, encoding="utf-8")
    assert over_limits(module, tmp_path) == []


if __name__ == "__main__":
    print("\n".join(all_over_limits()) or "all within limits")

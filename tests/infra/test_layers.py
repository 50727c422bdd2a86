"""The layering (issue 12), read from the code: handler -> service (ports only) -> repositories and adapters.

- a handler never reads or writes a store itself: it passes the ports from `postal.bootstrap` to one service call;
- no service imports boto3, botocore, httpx or a concrete repository (`postal.store.*`): only the composition root
  (`postal.bootstrap`), the repositories (`postal/store/`) and the provider adapters (`postal/providers/`) do.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted((ROOT / "functions").glob("*/handler.py"))
POSTAL = ROOT / "shared/postal"
ADAPTERS = (POSTAL / "store", POSTAL / "providers")
COMPOSITION_ROOT = POSTAL / "bootstrap.py"
FORBIDDEN = ("boto3", "botocore", "httpx", "postal.store")


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """Every module imported when the code runs (imports under `if TYPE_CHECKING:` are for the type checker)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


def _services() -> list[Path]:
    return [
        p
        for p in sorted(POSTAL.rglob("*.py"))
        if p != COMPOSITION_ROOT and not any(p.is_relative_to(a) for a in ADAPTERS)
    ]


def test_no_service_imports_aws_http_or_a_concrete_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _services()
        for line, module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
        if module.startswith(FORBIDDEN)
    ]
    assert offenders == []


def _store_reads(tree: ast.Module) -> list[int]:
    """Lines where a handler reaches into a port: `bootstrap.stores().<port>` or `bootstrap.letters().<method>`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr in {"stores", "letters", "api_keys_store"}:
                lines.append(node.lineno)
    return lines


def test_handlers_never_read_a_store_directly() -> None:
    offenders = {str(h.relative_to(ROOT)): lines for h in HANDLERS if (lines := _store_reads(ast.parse(h.read_text())))}
    assert offenders == {}


def test_the_checks_see_what_they_forbid() -> None:
    probe = ast.parse(
        "import boto3\nif TYPE_CHECKING:\n    import httpx\nx = bootstrap.stores().templates.get_template(o, t)\n"
    )
    assert [m for _, m in _runtime_imports(probe)] == ["boto3"]
    assert _store_reads(probe) == [4]

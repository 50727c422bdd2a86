"""The `sam build` recipes (functions/Makefile, shared/Makefile, layers/deps/Makefile) and what handlers import.

The recipes run here for real, into a temporary ARTIFACTS_DIR, as `sam build` runs them; only the deps layer's
pip install is not repeated (it needs the network and a minute).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel import localedata
from babel.core import get_global

from local.cfn import ROOT, FunctionSpec, Template, load_template
from postal.documents.i18n import LOCALES

RENDERS = {
    "DocumentsApiFunction",
    "TemplateChecksFunction",
    "LettersApiFunction",
    "CollectionFunction",
    "LetterUploadsFunction",
}
PDF_LIBRARIES = ("fpdf", "pypdf", "pypdfium2", "babel", "segno")
# Imported by no handler at cold start: the X-Ray SDK (tracing is off by default), the provider adapters and httpx.
NEVER_AT_IMPORT = ("aws_xray_sdk", "httpx", "postal.providers.registry", "postal.providers.pingen")
# The authorizer reads a key's org and the admin key: no domain models, so no pydantic (settings are a dataclass).
AUTHORIZER_NEVER = ("pydantic", "pydantic_core", "postal.models", "postal.store.repositories", "postal.ports")


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(load_template())


@pytest.fixture(scope="module")
def functions(template: Template) -> list[FunctionSpec]:
    return template.functions()


def make(directory: Path, target: str, artifacts: Path, *extra: str) -> None:
    env = {**os.environ, "ARTIFACTS_DIR": str(artifacts)}
    subprocess.run(
        ["make", "-s", "-C", str(directory), target, f"PYTHON={sys.executable}", *extra],
        env=env,
        check=True,
        capture_output=True,
    )


def pyc_flags(pyc: Path) -> int:
    """The PEP 552 flags word: 0b01 hash-based, 0b10 check the source (so 0b01 is unchecked-hash)."""
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def assert_unchecked_bytecode(tree: Path) -> None:
    sources = list(tree.rglob("*.py"))
    assert sources
    for source in sources:
        cache = source.parent / "__pycache__"
        pycs = list(cache.glob(f"{source.stem}.cpython-*.pyc"))
        assert pycs, f"{source}: no bytecode"
        assert all(pyc_flags(p) == 0b01 for p in pycs), f"{source}: bytecode is not unchecked-hash"


def test_every_function_is_built_from_only_its_own_handler_package(
    template: Template, functions: list[FunctionSpec], tmp_path: Path
) -> None:
    for function in functions:
        resource = template.doc["Resources"][function.logical_id]
        assert resource["Metadata"]["BuildMethod"] == "makefile", function.logical_id
        assert function.properties["CodeUri"] == "functions/", function.logical_id
        package = function.handler.split(".", 1)[0]
        artifacts = tmp_path / function.logical_id

        make(ROOT / "functions", f"build-{function.logical_id}", artifacts)

        assert sorted(p.name for p in artifacts.iterdir()) == [package], function.logical_id
        assert (artifacts / package / "handler.py").is_file()
        assert_unchecked_bytecode(artifacts)


def test_functions_share_the_deps_and_domain_layers(template: Template, functions: list[FunctionSpec]) -> None:
    for function in functions:
        assert [layer["Ref"] for layer in function.properties["Layers"]] == ["DepsLayer", "DomainLayer"]
    for layer in ("DepsLayer", "DomainLayer"):
        assert template.doc["Resources"][layer]["Metadata"]["BuildMethod"] == "makefile"


def test_the_domain_layer_is_the_postal_package_with_unchecked_hash_bytecode(tmp_path: Path) -> None:
    make(ROOT / "shared", "build-DomainLayer", tmp_path)

    assert sorted(p.name for p in (tmp_path / "python").iterdir()) == ["postal"]
    assert (tmp_path / "python" / "postal" / "documents" / "fonts").is_dir()  # data files travel with the code
    assert_unchecked_bytecode(tmp_path / "python")


def locale_chain(name: str) -> list[str]:
    """`name` and every locale Babel merges under it when it loads `name` (babel.localedata.load)."""
    chain = [name]
    while name != "root":
        parent = get_global("parent_exceptions").get(name)
        if not parent:
            parts = name.split("_")
            parent = "root" if len(parts) == 1 else "_".join(parts[:-1])
        chain.append(parent)
        name = parent
    return chain


def test_the_deps_layer_keeps_the_babel_data_of_every_language_documents_are_rendered_in(tmp_path: Path) -> None:
    # The exact `find` the Makefile runs, on empty files named like Babel's 1,000+ locale data files.
    data = tmp_path / "python" / "babel" / "locale-data"
    data.mkdir(parents=True)
    for name in localedata.locale_identifiers():
        (data / f"{name}.dat").touch()
    (data / "root.dat").touch()
    dry_run = subprocess.run(
        ["make", "-n", "-C", str(ROOT / "layers" / "deps"), "build-DepsLayer", f"ARTIFACTS_DIR={tmp_path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"^find \S+/babel/locale-data.*?-delete$", dry_run, re.S | re.M)
    assert match, "layers/deps/Makefile no longer prunes the Babel locale data"
    subprocess.run(match.group(0).replace("\\\n", " "), shell=True, check=True)

    kept = {p.stem for p in data.iterdir()}
    # Every locale the renderer uses (and MySendingBox's English country names) with everything it inherits.
    needed = {name for locale in [*LOCALES.values(), "en"] for name in locale_chain(locale)}
    assert needed <= kept, needed - kept
    assert {"ja", "zh_Hant", "es", "ar"}.isdisjoint(kept)
    assert len(kept) < 250


def test_tracing_is_off_unless_the_stack_asks_for_subsegments(template: Template) -> None:
    assert template.doc["Parameters"]["TraceSubsegments"]["Default"] == "false"
    assert template.globals_environment()["POWERTOOLS_TRACE_DISABLED"] == "true"


HANDLERS = [
    ("AuthorizerFunction", "authorizer"),
    ("OrgsApiFunction", "orgs_api"),
    ("SettingsApiFunction", "settings_api"),
    ("ChannelsApiFunction", "channels_api"),
    ("IntegrationApiFunction", "integration_api"),
    ("DisconnectCascadeFunction", "disconnect_cascade"),
    ("DocumentsApiFunction", "documents_api"),
    ("TemplateChecksFunction", "template_checks"),
    ("LettersApiFunction", "letters_api"),
    ("DispatchFunction", "dispatch"),
    ("WebhooksFunction", "webhooks"),
    ("CollectionFunction", "collection"),
    ("LetterUploadsFunction", "letter_uploads"),
    ("LetterReconciliationFunction", "letter_reconciliation"),
]


def test_the_import_table_names_every_function(functions: list[FunctionSpec]) -> None:
    assert sorted(HANDLERS) == sorted((f.logical_id, f.handler.split(".", 1)[0]) for f in functions)


@pytest.mark.parametrize(("logical_id", "package"), HANDLERS)
def test_a_handler_imports_at_cold_start_only_what_its_routes_use(logical_id: str, package: str) -> None:
    probe = f"import sys, {package}.handler; print(' '.join(sorted(sys.modules)))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("shared", "functions", ".")),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "eu-central-1",
    }
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True)
        .stdout.strip()
        .split()
    )
    assert not loaded & set(NEVER_AT_IMPORT), loaded & set(NEVER_AT_IMPORT)
    if logical_id not in RENDERS:
        assert not loaded & set(PDF_LIBRARIES), loaded & set(PDF_LIBRARIES)
    if logical_id == "AuthorizerFunction":
        assert not loaded & set(AUTHORIZER_NEVER), loaded & set(AUTHORIZER_NEVER)


def test_the_deps_layer_is_pruned_to_what_runs_and_ships_bytecode_only(tmp_path: Path) -> None:
    # `prune` and `compile` (the steps after the pip installs) on a tree named like the installed wheels.
    target = tmp_path / "python"
    kept = ["babel/__init__.py", "fontTools/__init__.py", "fontTools/ttLib/__init__.py", "fontTools/subset/x.py",
            "pycountry/__init__.py", "PIL/__init__.py", "PIL/_imaging.cpython-313-aarch64-linux-gnu.so",
            "pillow.libs/libjpeg-6dc8d115.so.62.4.0", "pkg/__init__.py", "pkg/data.json", "pkg-1.0.dist-info/METADATA",
            "babel/locale-data/de.dat", "babel/locale-data/root.dat"]  # fmt: skip
    pruned = ["babel/locale-data/ja.dat", "pycountry/locales/de/LC_MESSAGES/iso3166-1.mo", "fontTools/ufoLib/a.py",
              "fontTools/cu2qu/cu2qu.cpython-313-aarch64-linux-gnu.so", "fontTools/misc/bezierTools.abi3.so",
              "PIL/_webp.cpython-313-aarch64-linux-gnu.so", "PIL/_imagingft.cpython-313-aarch64-linux-gnu.so",
              "pillow.libs/libwebp-51b0b3f7.so.7.2.0", "pillow.libs/libfreetype-57f805ba.so.6.20.6",
              "pkg/tests/test_pkg.py", "pkg/__init__.pyi", "pkg-1.0.dist-info/RECORD", "bin/tool"]  # fmt: skip
    for name in kept + pruned:
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("VALUE = 42\n" if name == "pkg/__init__.py" else "")

    make(ROOT / "layers" / "deps", "prune", tmp_path, f"TARGET={target}")
    make(ROOT / "layers" / "deps", "compile", tmp_path, f"TARGET={target}")

    files = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    assert files == {name + "c" if name.endswith(".py") else name for name in kept}, files
    probe = f"import sys; sys.path[:0] = [{str(target)!r}]; import pkg; print(pkg.VALUE, pkg.__file__)"
    out = subprocess.run([sys.executable, "-S", "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["42", str(target / "pkg" / "__init__.pyc")]

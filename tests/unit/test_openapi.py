"""docs/openapi.json is generated from the code: it must not drift (regenerate with `make openapi`)."""

from __future__ import annotations

import json
from pathlib import Path

from postal.api.openapi import build, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_code() -> None:
    assert DOC.read_text() == render(), "docs/openapi.json is stale: run `make openapi`"


def test_every_api_route_of_the_template_is_documented() -> None:
    from local.cfn import Template, load_template

    documented = {(path, method.upper()) for path, ops in build()["paths"].items() for method in ops}
    declared = {
        (event.path, event.method.upper()) for spec in Template(load_template()).functions() for event in spec.api
    }
    # Every route of the template is served and documented: no gaps left.
    missing = declared - documented
    assert not missing, missing
    assert json.loads(DOC.read_text())["openapi"].startswith("3.")

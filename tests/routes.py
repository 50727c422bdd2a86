"""Every HTTP operation of the API, as template.yaml routes it and docs/openapi.json documents it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from local.cfn import ROOT, Template, load_template

OPENAPI = ROOT / "docs" / "openapi.json"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, e.g. /v1/orgs/{org_id}/letters
    module: str  # the function package serving it, e.g. letters_api
    authorized: bool  # False for the routes without the authorizer (health, webhooks)
    has_body: bool

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", self.path) + "$")

    def url(self, **values: str) -> str:
        """The path with its parameters filled in (`org_id` and the rest by name, 'x1' otherwise)."""
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "x1"), self.path)


@cache
def openapi() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return doc


@cache
def operations() -> tuple[Operation, ...]:
    """Every Api event of template.yaml, with whether the OpenAPI document gives it a request body."""
    doc = openapi()
    found = []
    for spec in Template(load_template()).functions():
        for event in spec.api:
            documented = doc["paths"].get(event.path, {}).get(event.method.lower(), {})
            found.append(
                Operation(
                    method=event.method,
                    path=event.path,
                    module=spec.handler.split(".", 1)[0],
                    authorized=event.authorizer is not None,
                    has_body="requestBody" in documented,
                )
            )
    return tuple(sorted(found, key=lambda o: (o.path, o.method)))


def operation_for(method: str, path: str) -> Operation | None:
    """The operation a concrete request path belongs to (the most literal template wins, as API Gateway does)."""
    matches = [o for o in operations() if o.method == method and o.pattern.match(path)]
    return max(matches, key=lambda o: o.path.count("{") * -1, default=None)


def documented_statuses(method: str, path_template: str) -> set[int]:
    responses = openapi()["paths"].get(path_template, {}).get(method.lower(), {}).get("responses", {})
    return {int(code) for code in responses if code.isdigit()}

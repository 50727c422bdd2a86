"""events/ holds a sample event for every function, each shaped like what its trigger really sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from local.cfn import Template, load_template

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTIONS = Template(load_template()).functions()


def _samples(module: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(EVENTS.glob(f"{module}*.json"))]


def _route_regex(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.logical_id)
def test_every_function_has_a_sample_event_of_its_trigger(spec) -> None:
    module = spec.handler.split(".")[0]
    samples = _samples(module)
    assert samples, f"events/{module}*.json is missing"
    for sample in samples:
        if spec.api:
            routes = [(e.method.upper(), _route_regex(e.path)) for e in spec.api]
            assert any(m == sample["httpMethod"] and r.match(sample["path"]) for m, r in routes), sample["path"]
        elif spec.sqs:
            assert sample["Records"]
            assert all(r["eventSource"] == "aws:sqs" and json.loads(r["body"]) for r in sample["Records"])
        elif spec.schedules:
            inputs = [s.input if isinstance(s.input, dict) else json.loads(s.input) for s in spec.schedules]
            assert sample in inputs
        else:
            assert sample.get("type") == "REQUEST"

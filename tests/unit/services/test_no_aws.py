"""The service unit tests need no AWS: importing them (and the fakes, and every service they test) in a fresh
interpreter imports neither boto3 nor moto. (botocore is imported by Powertools itself, for its user agent.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MODULES = ["test_cascade", "test_collection", "test_dispatch", "test_integration", "test_letters", "test_webhooks"]


def test_the_service_tests_import_neither_boto3_nor_moto() -> None:
    imports = "; ".join(f"import tests.unit.services.{m}" for m in MODULES)
    probe = f"import sys; {imports}; print(sorted({{m for m in sys.modules if m.split('.')[0] in ('boto3', 'moto')}}))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("shared", "functions", "."))}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

"""Start `python -m local.stack` in a subprocess once per session and talk HTTP to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local.cfn import ROOT

STARTUP_TIMEOUT_S = 40
ADMIN_KEY = "e2e-admin-key"


@dataclass(frozen=True)
class Stack:
    base_url: str
    admin_key: str


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """One request; HTTP errors are replies too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log_path: str) -> None:
    """Any HTTP answer from /v1/health means the gateway serves (whether health is 200 is a test of its own)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"local stack exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            http("GET", f"{base_url}/v1/health")
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"local stack did not answer within {STARTUP_TIMEOUT_S} s:\n{_tail(log_path)}")


def _tail(path: str, lines: int = 60) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return "".join(fh.readlines()[-lines:])


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The running local stack; asserts at teardown that Ctrl-C stopped it cleanly."""
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "PYTHONPATH": os.pathsep.join(["shared", "functions", "."]),
        "POSTAL_ADMIN_KEY": ADMIN_KEY,
        "SANDBOX_SPEED": "600",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    with tempfile.NamedTemporaryFile("w+b", prefix="local-stack-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, base_url, log.name)
        yield Stack(base_url=base_url, admin_key=ADMIN_KEY)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            returncode = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"local stack ignored Ctrl-C for 20 s:\n{_tail(log.name)}")
    assert returncode == 0, f"local stack exited with {returncode}:\n{_tail(log.name)}"
    os.unlink(log.name)

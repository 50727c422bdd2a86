"""The strict provider fakes of `../shared/contracts/` as subprocesses on free loopback ports, stopped by pid.

They were written from the providers' own docs and SDKs, independently of our adapters and of `tests/fakes/`:
a test here checks our reading of a provider against someone else's. Every test ends by asserting that the fake
saw no protocol violation (`/_state`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina

# tests/contract/conftest.py -> the repository root; CI clones the project with ../shared beside it.
CONTRACTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "contracts"
STARTUP_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class StrictFake:
    """One running strict fake: its URL, its process, and its test-only routes."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    args: list[str] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/_state", timeout=5).json()
        return data

    def violations(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.state()["violations"]
        return found

    def emit(self, provider_letter_id: str, spec: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """The webhook call the provider would make for this letter: (headers, raw body)."""
        reply = httpx.post(f"{self.url}/_emit/{provider_letter_id}", json=spec, timeout=5)
        assert reply.status_code == 200, reply.text
        call = reply.json()
        return dict(call["headers"]), str(call["body"]).encode()

    def advance(self, provider_letter_id: str, change: dict[str, Any]) -> dict[str, Any]:
        reply = httpx.post(f"{self.url}/_advance/{provider_letter_id}", json=change, timeout=5)
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def start_fake(name: str, *args: str) -> StrictFake:
    script = CONTRACTS / f"strict_{name}.py"
    if not script.is_file():
        pytest.fail(f"{script} is missing: the contract tests need ../shared/contracts beside the repository")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    fake = StrictFake(name=name, url=f"http://127.0.0.1:{port}", process=process, args=list(args))
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"strict_{name}.py exited at start: {stderr}")
        try:
            httpx.get(f"{fake.url}/_state", timeout=0.5)
            return fake
        except httpx.TransportError:
            time.sleep(0.05)
    fake.stop()
    pytest.fail(f"strict_{name}.py did not answer within {STARTUP_S} s")


StartFake = Callable[..., StrictFake]


@pytest.fixture
def strict() -> Iterator[StartFake]:
    """`strict("postgrid", "--drop-after-create", "1")` starts a fake; every fake is stopped (by pid) after the
    test, and the test fails if any of them recorded a protocol violation."""
    started: list[StrictFake] = []

    def start(name: str, *args: str) -> StrictFake:
        fake = start_fake(name, *args)
        started.append(fake)
        return fake

    try:
        yield start
        for fake in started:
            assert fake.violations() == [], json.dumps(fake.violations(), indent=1)
    finally:
        for fake in started:
            fake.stop()


@pytest.fixture(autouse=True)
def _no_backoff_sleeps() -> Iterator[None]:
    # The production attempt budget (3), without its sleeps.
    with stamina.set_testing(True, attempts=3):
        yield


class LoseResponses(httpx.BaseTransport):
    """Forwards every request to the real fake; for the first `times` requests matching method and path, throws
    the answer away after the provider processed it: `lost` raises ReadTimeout (a dropped response), `crash`
    answers 500 (a crash after accept). Records every request body, to compare retries."""

    def __init__(self, method: str, path_suffix: str, kind: str, times: int = 1):
        self.inner = httpx.HTTPTransport()
        self.method, self.path_suffix, self.kind, self.times = method, path_suffix, kind, times
        self.bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == self.method and request.url.path.endswith(self.path_suffix):
            self.bodies.append(request.content)
            if self.times > 0:
                self.times -= 1
                response.read()
                if self.kind == "lost":
                    raise httpx.ReadTimeout("response lost", request=request)
                return httpx.Response(500, json={"error": "crashed after accept"}, request=request)
        return response

"""Soak the local stack: `.venv/bin/python -m bench.bench_soak [LETTERS] [WORKERS]` from the repo root.

Starts `python -m local.stack` in a subprocess, creates an org, connects the sandbox provider and sends LETTERS
letters (1,000) from WORKERS threads (8), each with its own Idempotency-Key, mixed with hostile requests (bad
JSON, a foreign org, a revoked key). Prints the stack's resident memory before, half-way and after, the answers
by status, and whether 50 connections opened at once were all served. Target (issue 10): memory flat (the
second half of the run grows it by less than the first half did), zero 5xx, zero letters lost (every 202 is
listed by GET .../letters).
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from tests.unit.documents import pdf_corpus  # noqa: E402 -- after the path setup, as under pytest

ADMIN_KEY = "soak-admin-key"
ADDRESS = {
    "name": "Erika Muster",
    "lines": ["Bahnhofstrasse 12"],
    "postal_code": "8001",
    "city": "Zürich",
    "country": "CH",
}


def request(
    base: str,
    method: str,
    path: str,
    key: str | None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def simultaneous(port: int, count: int = 50) -> int:
    """Open `count` connections before sending anything, then one request on each; returns how many got 200."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
    for sock in sockets:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    served = 0
    for sock in sockets:
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            pass
        sock.close()
        served += data.startswith(b"HTTP/1.1 200")
    return served


def main(letters: int = 1000, workers: int = 8) -> int:  # noqa: PLR0915 (one measured run, read top to bottom)
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "PYTHONPATH": os.pathsep.join(["shared", "functions", "."]),
        "POSTAL_ADMIN_KEY": ADMIN_KEY,
        "SANDBOX_SPEED": "600",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    log = tempfile.NamedTemporaryFile("w+b", prefix="soak-", suffix=".log", delete=False)  # noqa: SIM115 - kept for reading after a failed start
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request(base, "GET", "/v1/health", None)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    print(f"the stack did not start; see {log.name}")
                    return 1
                time.sleep(0.3)
        _, created = request(base, "POST", "/v1/orgs", ADMIN_KEY, {"name": "Soak GmbH"})
        org, key = created["org"]["org_id"], created["api_key"]
        _, other = request(base, "POST", "/v1/orgs", ADMIN_KEY, {"name": "Other GmbH"})
        revoked = other["api_key"]
        request(base, "POST", f"/v1/orgs/{other['org']['org_id']}/api-key", revoked)
        request(
            base,
            "POST",
            f"/v1/orgs/{org}/integrations/postal/connect",
            key,
            {"provider": "sandbox", "credentials": {}, "confirm": True},
        )
        pdf = base64.b64encode(pdf_corpus.good_letter_cached()).decode()
        body = {"recipient": {"address": ADDRESS}, "postage": "priority", "send": True, "pdf_base64": pdf}
        statuses: collections.Counter[int] = collections.Counter()
        accepted: set[str] = set()

        def one(i: int) -> None:
            status, reply = request(
                base, "POST", f"/v1/orgs/{org}/letters", key, body, headers={"Idempotency-Key": f"soak-{i}"}
            )
            statuses[status] += 1
            if status == 202:
                accepted.add(reply["letter_id"])
            hostile = [
                request(base, "POST", f"/v1/orgs/{org}/letters", key, raw=b"[" * 5000),
                request(base, "GET", f"/v1/orgs/{other['org']['org_id']}/letters", key),
                request(base, "GET", f"/v1/orgs/{org}/letters", revoked),
            ]
            for hostile_status, _ in hostile:
                statuses[hostile_status] += 1

        before = rss_mb(process.pid)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(letters // 2)))
            half = rss_mb(process.pid)
            list(pool.map(one, range(letters // 2, letters)))
        after = rss_mb(process.pid)
        elapsed = time.monotonic() - started
        listed: set[str] = set()
        cursor = None
        while True:
            query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
            _, page = request(base, "GET", f"/v1/orgs/{org}/letters{query}", key)
            listed |= {letter["letter_id"] for letter in page["letters"]}
            cursor = page.get("next_cursor")
            if not cursor:
                break
        served = simultaneous(port)
        five_xx = sum(n for s, n in statuses.items() if s >= 500)
        print("| letters | workers | s | RSS before MB | RSS half-way MB | RSS after MB | 5xx | lost | 50 at once |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {letters} | {workers} | {elapsed:.0f} | {before:.0f} | {half:.0f} | {after:.0f} | {five_xx} | "
            f"{len(accepted - listed)} | {served}/50 |"
        )
        print("answers by status:", dict(sorted(statuses.items())))
        flat = (after - half) < max(half - before, 20)
        return 0 if five_xx == 0 and not (accepted - listed) and served == 50 and flat else 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*args))

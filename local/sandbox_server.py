"""Sandbox print-and-mail provider: a small stdlib HTTP server for local runs and tests (PRODUCT.md §2.7, §6).

It accepts letters, moves each one through the real lifecycle on a clock sped up by `SANDBOX_SPEED`, and POSTs
signed webhooks to the letter's `webhook_url`, shaped and signed like Pingen's (JSON:API body, header
`Signature` = hex HMAC-SHA256 of the raw body keyed with the letter's `signing_key`).

Simulated durations (divide by SANDBOX_SPEED for real time; 60 = one simulated minute per real second):
  submitted --1 min--> accepted --30 min--> printing --2 h--> sent --2 days--> delivered (registered only)
Forced outcomes: a recipient name containing UNDELIVERABLE goes sent -> undeliverable (after the delivery
time); containing REJECT, or `"fail": true` in the request, goes submitted -> failed (rejected_by_provider).
Cancel works until printing starts.

API (JSON in and out, errors `{"error":{"code","message"}}`):
  POST /letters            {letter_id, pdf_url | pdf_base64, recipient, postage, color, duplex, page_count,
                            webhook_url, signing_key, fail}  -> 201 (200 when letter_id is known: idempotent)
  GET  /letters?letter_id= -> the letter or 404;  GET /letters/{id}
  POST /letters/{id}/cancel -> the letter, or 409 once printing
  POST /prices             {country, pages, color, duplex, postage, volume} -> {amount, currency, total}
  GET  /health

Run: `python -m local.sandbox_server` (env SANDBOX_PORT, default 4010; SANDBOX_SPEED, default 60).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.sandbox_letters import DURATIONS, FINAL, MINUTE, POSTAGES, SandboxLetter, now_iso, webhook_body

try:
    from postal.providers.base import PriceRequest, ProviderError
    from postal.providers.prices import price_table
except ModuleNotFoundError:  # `python -m local.sandbox_server` from the repo root: the domain layer is in shared/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))
    from postal.providers.base import PriceRequest, ProviderError
    from postal.providers.prices import price_table

logger = logging.getLogger("sandbox")

WEBHOOK_ATTEMPTS = 3
WEBHOOK_RETRY_SIM_S = 1 * MINUTE  # Pingen retries after 1 min first (providers.md §1.6)


class SandboxServer:
    """The sandbox provider. `SandboxServer(port=0).start()` returns its base URL; `.stop()` ends every thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4010, speed: float | None = None):
        self.speed = float(speed if speed is not None else os.environ.get("SANDBOX_SPEED", "60"))
        if self.speed <= 0:
            raise ValueError("SANDBOX_SPEED must be positive")
        self.letters: dict[str, SandboxLetter] = {}
        self.webhooks_sent = 0
        self._by_reference: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._outbox: queue.Queue[tuple[str, str, bytes, int] | None] = queue.Queue()
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._tick, daemon=True),
            threading.Thread(target=self._deliver, daemon=True),
        ]

    @property
    def base_url(self) -> str:
        """http://host:port of the running server (the real port when started with port=0)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Start serving in background threads; returns the base URL."""
        for thread in self._threads:
            thread.start()
        logger.info("sandbox provider on %s (speed x%g)", self.base_url, self.speed)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and join every thread."""
        self._stop.set()
        self._outbox.put(None)
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def _delay(self, status: str) -> float:
        return DURATIONS.get(status, 0.0) / self.speed

    def _move(self, letter: SandboxLetter, status: str, reason: str | None = None) -> None:
        """Change status, record it, schedule the next step and queue the webhook (caller holds the lock)."""
        letter.status = status
        letter.reason = reason
        if status == "failed":
            letter.error_code, letter.reason = "rejected_by_provider", reason or "forced failure (sandbox)"
        elif status == "undeliverable":
            letter.error_code, letter.reason = "undeliverable", reason or "addressee unknown (sandbox)"
        letter.next_at = time.monotonic() + self._delay(status)
        event_id = str(uuid.uuid4())
        letter.history.append({"status": status, "at": now_iso(), "event_id": event_id})
        if letter.webhook_url and letter.signing_key:
            self._outbox.put((letter.webhook_url, letter.signing_key, webhook_body(letter, event_id), 1))

    def _tick(self) -> None:
        while not self._stop.wait(0.005):
            now = time.monotonic()
            with self._lock:
                for letter in self.letters.values():
                    if letter.status not in FINAL and now >= letter.next_at:
                        nxt = letter.next_status()
                        if nxt:
                            self._move(letter, nxt)

    def _deliver(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None or self._stop.is_set():
                return
            url, key, body, attempt = item
            signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/vnd.api+json", "Signature": signature},
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    ok = 200 <= response.status < 300
            except (urllib.error.URLError, OSError):
                ok = False
            if ok:
                with self._lock:
                    self.webhooks_sent += 1
            elif attempt < WEBHOOK_ATTEMPTS:
                delay = min(WEBHOOK_RETRY_SIM_S / self.speed, 5.0)
                timer = threading.Timer(delay, self._outbox.put, args=((url, key, body, attempt + 1),))
                timer.daemon = True
                timer.start()
            else:
                logger.warning("sandbox: webhook dropped after %d attempts", attempt)

    # --- API ------------------------------------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /letters; idempotent on letter_id."""
        problems = _create_problems(body)
        if problems:
            error = {
                "code": "missing_address_fields" if "recipient" in problems[0] else "format_error",
                "message": "; ".join(problems),
            }
            return 422, {"error": error}
        letter_id, recipient, postage = body["letter_id"], body["recipient"], body.get("postage", "priority")
        assert isinstance(letter_id, str)
        assert isinstance(recipient, dict)
        with self._lock:
            known = self._by_reference.get(letter_id)
            if known:
                return 200, self.letters[known].view()
            letter = SandboxLetter(
                id=f"sbx_{uuid.uuid4().hex[:16]}",
                letter_id=letter_id,
                recipient=recipient,
                postage=postage,
                color=bool(body.get("color")),
                duplex=bool(body.get("duplex")),
                page_count=int(body.get("page_count") or 1),
                webhook_url=body.get("webhook_url"),
                signing_key=body.get("signing_key"),
                fail=bool(body.get("fail")),
            )
            self.letters[letter.id] = letter
            self._by_reference[letter_id] = letter.id
            self._move(letter, "submitted")
            return 201, letter.view()

    def cancel(self, letter_id: str) -> tuple[int, dict[str, Any]]:
        """POST /letters/{id}/cancel: allowed while submitted or accepted."""
        with self._lock:
            letter = self.letters.get(letter_id)
            if letter is None:
                return 404, {"error": {"code": "not_found", "message": "no such letter"}}
            if letter.status == "cancelled":
                return 200, letter.view()
            if letter.status not in ("submitted", "accepted"):
                return 409, {
                    "error": {
                        "code": "not_cancellable",
                        "message": f"the letter is {letter.status}; too late to cancel",
                    }
                }
            self._move(letter, "cancelled", "cancelled by the sender")
            return 200, letter.view()

    def price(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /prices from the sandbox price table."""
        try:
            quote = price_table("sandbox").quote(PriceRequest.model_validate(body), provider="sandbox")
        except ProviderError as exc:
            return 422, {"error": {"code": exc.code, "message": exc.message}}
        except ValueError as exc:
            return 422, {"error": {"code": "bad_request", "message": str(exc)}}
        return 200, {"amount": str(quote.amount), "currency": quote.currency, "total": str(quote.total)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        class Handler(_SandboxHandler):
            pass

        Handler.sandbox = self
        return Handler

    def view_by_reference(self, reference: str) -> dict[str, Any] | None:
        """The letter sent with our `letter_id` (GET /letters?letter_id=), or None."""
        with self._lock:
            known = self._by_reference.get(reference)
            return self.letters[known].view() if known else None

    def view(self, letter_id: str) -> dict[str, Any] | None:
        """The letter by its sandbox id (GET /letters/{id}), or None."""
        with self._lock:
            letter = self.letters.get(letter_id)
            return letter.view() if letter else None


def _create_problems(body: dict[str, Any]) -> list[str]:
    """What is wrong with a POST /letters body (empty when it can be accepted)."""
    letter_id = body.get("letter_id")
    recipient = body.get("recipient")
    problems = []
    if not isinstance(letter_id, str) or not letter_id:
        problems.append("letter_id is required")
    if not isinstance(recipient, dict) or not recipient.get("name") or not recipient.get("country"):
        problems.append("recipient needs name and country")
    if body.get("postage", "priority") not in POSTAGES:
        problems.append(f"postage must be one of {sorted(POSTAGES)}")
    if body.get("webhook_url") and not body.get("signing_key"):
        problems.append("signing_key is required with webhook_url")
    if not body.get("pdf_url"):
        try:
            pdf = base64.b64decode(str(body.get("pdf_base64") or ""), validate=True)
        except binascii.Error:
            pdf = b""
        if not pdf.startswith(b"%PDF"):
            problems.append("pdf_url or pdf_base64 (a PDF) is required")
    return problems


NOT_FOUND = {"error": {"code": "not_found", "message": "no such route"}}


class _SandboxHandler(BaseHTTPRequestHandler):
    """The sandbox's HTTP API over `sandbox` (set on a subclass per server)."""

    sandbox: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-Request-ID", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(raw)

    def _json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts == ["health"]:
            self._reply(200, {"status": "ok", "speed": self.sandbox.speed})
        elif parts == ["letters"]:
            found = self.sandbox.view_by_reference((parse_qs(url.query).get("letter_id") or [""])[0])
            if found:
                self._reply(200, found)
            else:
                self._reply(404, {"error": {"code": "not_found", "message": "no letter for that letter_id"}})
        elif len(parts) == 2 and parts[0] == "letters":
            found = self.sandbox.view(parts[1])
            if found:
                self._reply(200, found)
            else:
                self._reply(404, {"error": {"code": "not_found", "message": "no such letter"}})
        else:
            self._reply(404, NOT_FOUND)

    def do_POST(self) -> None:
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        body = self._json()
        if body is None:
            self._reply(400, {"error": {"code": "bad_request", "message": "body must be a JSON object"}})
        elif parts == ["letters"]:
            self._reply(*self.sandbox.create(body))
        elif len(parts) == 3 and parts[0] == "letters" and parts[2] == "cancel":
            self._reply(*self.sandbox.cancel(parts[1]))
        elif parts == ["prices"]:
            self._reply(*self.sandbox.price(body))
        else:
            self._reply(404, NOT_FOUND)


def main() -> None:
    """Serve until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = SandboxServer(
        host=os.environ.get("SANDBOX_HOST", "127.0.0.1"), port=int(os.environ.get("SANDBOX_PORT", "4010"))
    )
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

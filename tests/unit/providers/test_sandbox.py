"""Sandbox end to end: a real SandboxServer on port 0, the adapter over HTTP, and a local webhook receiver."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from local.sandbox_server import SandboxServer
from postal.models import Address, LetterStatus, Postage
from postal.providers.base import InvalidSignature, PriceRequest, ProviderError, ProviderErrorCode, WebhookEvent
from postal.providers.sandbox import SandboxProvider
from tests.unit.providers.conftest import submission

KEY = "sandbox-signing-key"
SPEED = 2_000_000  # 2 simulated days in ~0.09 s


class Receiver:
    """A tiny webhook endpoint that verifies and parses each call with the adapter."""

    def __init__(self) -> None:
        self.events: queue.Queue[WebhookEvent] = queue.Queue()
        self.provider: SandboxProvider | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                assert receiver.provider is not None
                try:
                    for event in receiver.provider.parse_webhook(dict(self.headers.items()), raw):
                        receiver.events.put(event)
                    self.send_response(204)
                except InvalidSignature:
                    self.send_response(401)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/sandbox"

    def statuses(self, letter_id: str, until: set[LetterStatus], timeout: float = 4.0) -> list[LetterStatus | None]:
        """Statuses received for one letter until a final one arrives (bounded wait)."""
        seen: list[LetterStatus | None] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if event.letter_id == letter_id:
                seen.append(event.status)
                if event.status in until:
                    return seen
        raise AssertionError(f"no final status for {letter_id}; saw {seen}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    s = SandboxServer(port=0, speed=SPEED)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def provider(server: SandboxServer, receiver: Receiver) -> SandboxProvider:
    p = SandboxProvider(
        http=httpx.Client(timeout=2), base_url=server.base_url, webhook_url=receiver.url, signing_key=KEY
    )
    receiver.provider = p
    return p


FINAL = {LetterStatus.DELIVERED, LetterStatus.UNDELIVERABLE, LetterStatus.FAILED, LetterStatus.CANCELLED}


def test_priority_letter_runs_to_sent(provider: SandboxProvider, receiver: Receiver) -> None:
    result = provider.submit(submission())
    assert result.status is LetterStatus.SUBMITTED
    seen = receiver.statuses("let_000001", {LetterStatus.SENT})
    assert seen == [LetterStatus.SUBMITTED, LetterStatus.ACCEPTED, LetterStatus.PRINTING, LetterStatus.SENT]
    assert provider.get(result.provider_letter_id).status is LetterStatus.SENT


def test_registered_is_delivered_and_undeliverable_is_forced(provider: SandboxProvider, receiver: Receiver) -> None:
    provider.submit(submission(letter_id="reg_1", postage=Postage.REGISTERED))
    assert receiver.statuses("reg_1", FINAL)[-1] is LetterStatus.DELIVERED

    bad = Address(name="UNDELIVERABLE Test", lines=["Nowhere 1"], postal_code="1000", city="X", country="CH")
    provider.submit(submission(letter_id="und_1", recipient=bad))
    assert receiver.statuses("und_1", FINAL)[-1] is LetterStatus.UNDELIVERABLE


def test_fail_flag_fails_the_letter(server: SandboxServer, receiver: Receiver, provider: SandboxProvider) -> None:
    response = httpx.post(
        f"{server.base_url}/letters",
        json={
            "letter_id": "fail_1",
            "pdf_url": "https://example.com/x.pdf",
            "recipient": {"name": "A", "country": "CH"},
            "postage": "priority",
            "webhook_url": receiver.url,
            "signing_key": KEY,
            "fail": True,
        },
    )
    assert response.status_code == 201
    assert receiver.statuses("fail_1", FINAL)[-1] is LetterStatus.FAILED


def test_idempotent_on_letter_id_and_cancel_until_printing(receiver: Receiver) -> None:
    slow = SandboxServer(port=0, speed=1)  # real time: stays `submitted` for a minute
    slow.start()
    try:
        provider = SandboxProvider(
            http=httpx.Client(timeout=2), base_url=slow.base_url, webhook_url=receiver.url, signing_key=KEY
        )
        receiver.provider = provider
        first = provider.submit(submission())
        assert provider.submit(submission()) == first
        assert provider.find_by_reference("let_000001") == first
        assert provider.find_by_reference("nope") is None
        assert len(slow.letters) == 1

        provider.cancel(first.provider_letter_id)
        assert provider.get(first.provider_letter_id).status is LetterStatus.CANCELLED
        slow.letters[first.provider_letter_id].status = "printing"
        with pytest.raises(ProviderError) as exc:
            provider.cancel(first.provider_letter_id)
        assert exc.value.code == ProviderErrorCode.REJECTED_BY_PROVIDER
    finally:
        slow.stop()


def test_quote_and_validation(provider: SandboxProvider) -> None:
    quote = provider.quote(PriceRequest(country="FR", pages=2, postage=Postage.ECONOMY, volume=2))
    # 1.10 + 1 page x 0.10 + 1 extra sheet x 0.05
    assert (str(quote.amount), quote.currency, str(quote.total)) == ("1.25", "EUR", "2.50")
    with pytest.raises(ProviderError) as exc:
        provider.quote(PriceRequest(country="DE", pages=1, postage=Postage.ECONOMY))
    assert exc.value.code == ProviderErrorCode.UNSUPPORTED_COUNTRY


def test_webhook_with_wrong_key_is_rejected(provider: SandboxProvider) -> None:
    with pytest.raises(InvalidSignature):
        provider.parse_webhook({"Signature": "00"}, b'{"data": {"type": "webhook_sent"}}')

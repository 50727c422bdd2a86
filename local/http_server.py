"""The local gateway's HTTP server: a stdlib `ThreadingHTTPServer` that reads each request (Content-Length or
chunked, within API Gateway's 10 MB), hands it to `Gateway.handle` and writes the answer back."""

from __future__ import annotations

import logging
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from local.messages import Request, Response, error_response

if TYPE_CHECKING:
    from local.gateway import Gateway

log = logging.getLogger("local")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit
LISTEN_BACKLOG = 128  # simultaneous connections waiting to be accepted (http.server's default is 5)


class Server(ThreadingHTTPServer):
    """One thread per connection, with a listen backlog that takes a burst of simultaneous clients."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class HttpHandler(BaseHTTPRequestHandler):
    """Adapts http.server to `Gateway.handle`; logs one line per request and nothing of its content."""

    gateway: Gateway
    protocol_version = "HTTP/1.1"
    server_version = "postal-local"
    timeout = 60  # idle keep-alive connections must not pin a thread forever

    def _read_body(self) -> tuple[bytes, Response | None]:
        """The request body (Content-Length or chunked), or the gateway's error response for a bad one."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(66).split(b";", 1)[0].strip()
                try:
                    chunk = int(line, 16)
                except ValueError:
                    return b"", error_response(400, "bad_request", "malformed chunked body")
                if chunk == 0:
                    while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                        pass
                    return b"".join(chunks), None
                size += chunk
                if size > MAX_REQUEST_BYTES:
                    return b"", self.gateway.responses("REQUEST_TOO_LARGE")
                chunks.append(self.rfile.read(chunk))
                self.rfile.readline(3)  # the CRLF after each chunk
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():
            return b"", error_response(400, "bad_request", "invalid Content-Length")
        length = int(raw)
        if length > MAX_REQUEST_BYTES:
            return b"", self.gateway.responses("REQUEST_TOO_LARGE")
        return (self.rfile.read(length) if length else b""), None

    def _serve(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        body, problem = self._read_body()
        if problem is not None:
            response = problem
            self.close_connection = True  # an unread or unreadable body must not be parsed as the next request
        else:
            request = Request(
                method=self.command,
                path=url.path,
                query=url.query,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            try:
                response = self.gateway.handle(request)
            except Exception:
                log.error("gateway error on %s %s:\n%s", self.command, url.path, traceback.format_exc())
                response = error_response(500, "internal_error", "local gateway error (see the stack's log)")
        self.send_response(response.status)
        for key, value in response.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        log.info("%s %s %d %dms", self.command, url.path, response.status, (time.monotonic() - started) * 1000)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, PROPFIND, ...) is routed too: 405 on a known path, 404 elsewhere, as JSON."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:  # noqa: ARG002
        """http.server's own errors (malformed request line, oversized headers) in the API's error shape, not
        as an HTML page."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # answer with a status line even when the request line was unreadable
        response = error_response(code, "bad_request" if code < 500 else "internal_error", message or "bad request")
        try:
            self.send_response(code, message)
            for key, value in response.headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(response.body)
        except OSError:
            pass  # the client is gone

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's own access log: `_serve` logs a line without query strings."""

"""What the provider fakes share: the record of calls, injected faults, and multipart parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import HTTP

import httpx


@dataclass
class Fault:
    """Inject `kind` on the next `times` requests matching method and path substring.

    kinds: "429" (with retry_after), "500", "503", "timeout" (ReadTimeout before handling), "connect"
    (ConnectError), "crash_after_accept" (handle the request, then answer 500), "drop_after_accept" (handle it,
    then raise ReadTimeout: the response is lost).
    """

    method: str
    path: str
    kind: str
    times: int = 1
    retry_after: str | None = None


@dataclass
class FakeApi:
    """Base of the provider fakes (handlers for httpx.MockTransport): records every call, injects `faults`, and
    hands the request to the subclass's `_route`. `_fault` builds an injected error in the provider's own shape."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def count(self, method: str, path_part: str) -> int:
        """How many requests matched method and a path substring."""
        return sum(1 for m, p in self.calls if m == method and path_part in p)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        fault = self._take_fault(request)
        if fault and fault.kind == "timeout":
            raise httpx.ReadTimeout("injected", request=request)
        if fault and fault.kind == "connect":
            raise httpx.ConnectError("injected", request=request)
        if fault and fault.kind in ("429", "500", "503"):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._fault(int(fault.kind), "injected", headers)
        response = self._route(request)
        if fault and fault.kind == "crash_after_accept":
            return self._fault(500, "crashed after accepting", {})
        if fault and fault.kind == "drop_after_accept":
            raise httpx.ReadTimeout("response lost", request=request)
        return response

    def _take_fault(self, request: httpx.Request) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == request.method and fault.path in request.url.path:
                fault.times -= 1
                return fault
        return None

    def _fault(self, status: int, message: str, headers: dict[str, str]) -> httpx.Response:
        raise NotImplementedError

    def _route(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


def parse_multipart(request: httpx.Request) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """(fields, files) of a multipart/form-data request; files map name -> (filename, content type, bytes)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(f"expected multipart/form-data, got {content_type!r}")
    message = message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content, policy=HTTP)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        filename = part.get_filename()
        if filename:
            files[name] = (filename, part.get_content_type(), payload)
        else:
            fields[name] = payload.decode()
    return fields, files

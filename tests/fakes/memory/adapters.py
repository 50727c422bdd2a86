"""The other ports in memory: the documents bucket, queues, the secrets store and the Idempotency-Key table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from postal.errors import NotFound
from postal.ports import IdempotencyHit, StoredObject

SSE = "AES256"


@dataclass
class StoredFile:
    data: bytes
    content_type: str
    metadata: dict[str, str]


class MemoryDocuments:
    """Objects by key (written with SSE, like `DocumentStore`); URLs name the key and never expire."""

    def __init__(self, presign_seconds: int = 900):
        self.presign_seconds = presign_seconds
        self.files: dict[str, StoredFile] = {}

    def put(self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None) -> None:
        self.files[key] = StoredFile(bytes(data), content_type, dict(metadata or {}))

    def put_pdf(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        self.put(key, data, content_type="application/pdf", metadata=metadata)

    def put_png(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        self.put(key, data, content_type="image/png", metadata=metadata)

    def get(self, key: str) -> bytes:
        if key not in self.files:
            raise NotFound("the stored file was not found", code="file_not_found")
        return self.files[key].data

    def head(self, key: str) -> StoredObject | None:
        stored = self.files.get(key)
        if stored is None:
            return None
        return StoredObject(key, len(stored.data), stored.content_type, SSE, dict(stored.metadata))

    def download_url(self, key: str, *, filename: str | None = None) -> str:
        return f"https://documents.invalid/{key}?get" + (f"&filename={filename}" if filename else "")

    def upload_url(self, key: str, *, content_type: str = "application/pdf") -> str:
        return f"https://documents.invalid/{key}?put&content_type={content_type}"


@dataclass
class RecordingQueue:
    """A queue that keeps what is sent (`messages`, with their `delays`); `take()` hands them to a consumer."""

    messages: list[BaseModel] = field(default_factory=list)
    delays: list[int] = field(default_factory=list)

    def send(self, message: BaseModel, delay_seconds: int = 0) -> None:
        self.messages.append(message.model_copy(deep=True))
        self.delays.append(delay_seconds)

    def take(self) -> list[BaseModel]:
        taken, self.messages, self.delays = self.messages, [], []
        return taken


class MemorySecrets:
    """Secrets by name, each write a new version; the reference is `<arn>#<version>` like `SecretStore`'s."""

    def __init__(self, prefix: str = "postal/"):
        self.prefix = prefix
        self.versions: dict[str, list[dict[str, Any]]] = {}

    def put_integration_secret(self, org_id: str, value: dict[str, Any], *, connection: int = 0) -> str:
        name = f"{self.prefix}{org_id}/postal/{connection}" if connection else f"{self.prefix}{org_id}/postal"
        self.versions.setdefault(name, []).append(dict(value))
        return f"arn:memory:secret:{name}#v{len(self.versions[name])}"

    def get(self, ref: str) -> dict[str, Any]:
        """The secret's current value (as a cached read would see it right after a write)."""
        name = ref.partition("#")[0].removeprefix("arn:memory:secret:")
        if name not in self.versions:
            raise NotFound(f"secret '{name}' not found")
        return dict(self.versions[name][-1])


class MemoryIdempotencyKeys:
    """One record per (scope, org, key): the first reservation wins; release only by the same request body."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, str]] = {}

    def reserve(
        self, scope: str, org_id: str, key: str, request_hash: str, resource_id: str, *, expires_at: int
    ) -> tuple[IdempotencyHit, str]:
        record_id = f"{scope}#{org_id}#{key}"
        if record_id not in self.records:
            self.records[record_id] = (request_hash, resource_id)
            return IdempotencyHit.NEW, resource_id
        seen_hash, seen_id = self.records[record_id]
        return (IdempotencyHit.SAME if seen_hash == request_hash else IdempotencyHit.DIFFERENT_BODY), seen_id

    def release(self, scope: str, org_id: str, key: str, request_hash: str) -> None:
        record_id = f"{scope}#{org_id}#{key}"
        if self.records.get(record_id, ("", ""))[0] == request_hash:
            del self.records[record_id]

"""S3 adapter for documents, custom template PDFs, uploads and previews (the `DocumentsBucket`).

Every object is written with SSE (AES256) even though the bucket encrypts by default: the explicit header makes
the guarantee visible in `head_object` and survives a bucket whose default encryption was changed by hand.
Downloads and uploads go through short-lived presigned URLs only; the bucket itself is private.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.errors import NotFound
from postal.ports import StoredObject

SSE = "AES256"
# S3 caps user metadata at 2 KB (keys and values together); stay well below it whatever the caller passes.
MAX_METADATA_BYTES = 1800


def _ascii(value: str) -> str:
    """S3 metadata travels as HTTP headers: ASCII only (ids and hashes already are)."""
    return value.encode("ascii", "replace").decode("ascii")


def fit_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """ASCII values, truncated from the end of the longest value until the whole set fits S3's limit."""
    fitted = {k: _ascii(v) for k, v in metadata.items()}
    while sum(len(k) + len(v) for k, v in fitted.items()) > MAX_METADATA_BYTES:
        longest = max(fitted, key=lambda k: len(fitted[k]))
        fitted[longest] = fitted[longest][: max(0, len(fitted[longest]) // 2 - 1)] + "~"
    return fitted


class DocumentStore:
    """Put/get objects in the documents bucket and presign URLs for them. `client` is a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, presign_seconds: int):
        self.client = client
        self.bucket = bucket
        self.presign_seconds = presign_seconds

    def put(self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None) -> None:
        """Store `data` at `key` with SSE AES256 and (fitted) user metadata."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ServerSideEncryption=SSE,
            Metadata=fit_metadata(metadata or {}),
        )

    def put_pdf(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        """Store a PDF (see `put`)."""
        self.put(key, data, content_type="application/pdf", metadata=metadata)

    def put_png(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        """Store a PNG (see `put`)."""
        self.put(key, data, content_type="image/png", metadata=metadata)

    def get(self, key: str) -> bytes:
        """The object's bytes; `NotFound` when there is none."""
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise NotFound("the stored file was not found", code="file_not_found") from exc
            raise
        return bytes(resp["Body"].read())

    def head(self, key: str) -> StoredObject | None:
        """Size, type, SSE and metadata of the object, or None when there is none."""
        try:
            resp = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return StoredObject(
            key=key,
            size=int(resp.get("ContentLength", 0)),
            content_type=resp.get("ContentType"),
            sse=resp.get("ServerSideEncryption"),
            metadata=dict(resp.get("Metadata") or {}),
        )

    def download_url(self, key: str, *, filename: str | None = None) -> str:
        """A presigned GET valid for the settings' `presign_seconds`; `filename` names the download."""
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'inline; filename="{_ascii(filename)}"'
        url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_seconds)
        return url

    def upload_url(self, key: str, *, content_type: str = "application/pdf") -> str:
        """A presigned PUT for `key`; the client must send the same `Content-Type` header."""
        url: str = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=self.presign_seconds,
        )
        return url


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}

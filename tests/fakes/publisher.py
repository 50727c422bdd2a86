"""An event bus that keeps what is published (the `postal.ports.Publisher` port)."""

from __future__ import annotations

from typing import Any


class RecordingPublisher:
    """Keeps each event's detail (in `details`) and its detail type (in `types`); `calls` counts PutEvents calls."""

    def __init__(self, details: list[dict[str, Any]] | None = None):
        self.details: list[dict[str, Any]] = details if details is not None else []
        self.types: list[str] = []
        self.calls = 0

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_many(detail_type, [detail])

    def publish_many(self, detail_type: str, details: list[dict[str, Any]]) -> None:
        self.calls += (len(details) + 9) // 10
        self.details.extend(details)
        self.types.extend([detail_type] * len(details))

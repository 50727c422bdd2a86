"""The sandbox provider's letters: their lifecycle (which status follows which, after how long in simulated
time) and the Pingen-shaped webhook each status change sends (see local/sandbox_server.py)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
# Simulated seconds a letter spends in a status before it moves on.
DURATIONS = {"submitted": 1 * MINUTE, "accepted": 30 * MINUTE, "printing": 2 * HOUR, "sent": 2 * DAY}
REGISTERED = {"registered", "registered_with_receipt"}
POSTAGES = {"priority", "economy", *REGISTERED}
FINAL = {"delivered", "undeliverable", "failed", "cancelled"}


@dataclass
class SandboxLetter:
    id: str
    letter_id: str
    recipient: dict[str, Any]
    postage: str
    color: bool
    duplex: bool
    page_count: int
    webhook_url: str | None
    signing_key: str | None
    fail: bool
    status: str = "submitted"
    reason: str | None = None
    error_code: str | None = None
    next_at: float = 0.0
    history: list[dict[str, str]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """The letter as the API returns it (no recipient: it is not needed back and keeps logs clean)."""
        return {
            "id": self.id,
            "letter_id": self.letter_id,
            "status": self.status,
            "postage": self.postage,
            "reason": self.reason,
            "error_code": self.error_code,
            "history": self.history,
        }

    def next_status(self) -> str | None:
        """Where the letter goes when its time in the current status is up (None: it stays)."""
        name = str(self.recipient.get("name", "")).upper()
        if self.status == "submitted":
            return "failed" if self.fail or "REJECT" in name else "accepted"
        if self.status == "sent":
            if "UNDELIVERABLE" in name:
                return "undeliverable"
            return "delivered" if self.postage in REGISTERED else None
        return {"accepted": "printing", "printing": "sent"}.get(self.status)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def webhook_body(letter: SandboxLetter, event_id: str) -> bytes:
    """A Pingen-shaped JSON:API webhook; `data.type` is `webhook_<canonical status>`."""
    return json.dumps(
        {
            "data": {
                "id": str(uuid.uuid4()),
                "type": f"webhook_{letter.status}",
                "attributes": {"reason": letter.reason, "url": letter.webhook_url, "created_at": now_iso()},
                "relationships": {
                    "letter": {"data": {"id": letter.id, "type": "letters"}},
                    "event": {"data": {"id": event_id, "type": "letters_events"}},
                },
            },
            "included": [
                {
                    "id": letter.id,
                    "type": "letters",
                    "attributes": {
                        "status": letter.status,
                        "letter_id": letter.letter_id,
                        "error_code": letter.error_code,
                    },
                },
                {
                    "id": event_id,
                    "type": "letters_events",
                    "attributes": {
                        "code": letter.status,
                        "name": letter.reason or letter.status,
                        "emitted_at": now_iso(),
                    },
                },
            ],
        }
    ).encode()

"""What the letter services send out: status changes on EventBridge and letters to hand over on the dispatch
queue, and the ports they go through. Dispatch and webhooks import these without the letters API (no rendering,
no PDF check)."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from postal.letters.model import Letter, status_event_detail
from postal.models import LetterStatus

SOURCE = "postal-comms"  # the `source` of the history entries the letters API writes


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Sender(Protocol):
    def send(self, message: BaseModel, delay_seconds: int = 0) -> None: ...


class DispatchMessage(BaseModel):
    """One letter to hand to the provider (DispatchQueue)."""

    org_id: str
    letter_id: str


def publish_change(events: Publisher, letter: Letter, previous: LetterStatus | None) -> None:
    """Every status change goes out on EventBridge (PRODUCT.md §3)."""
    events.publish("LetterStatusChanged", status_event_detail(letter, previous))

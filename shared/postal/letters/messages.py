"""What the letter services send out: letters to hand over on the dispatch queue (the ports they go through are
in `postal.ports`). Dispatch and webhooks import these without the letters API (no rendering, no PDF check)."""

from __future__ import annotations

from pydantic import BaseModel

from postal.ports import Publisher, Sender

SOURCE = "postal-comms"  # the `source` of the history entries the letters API writes


class DispatchMessage(BaseModel):
    """One letter to hand to the provider (DispatchQueue)."""

    org_id: str
    letter_id: str


__all__ = ["SOURCE", "DispatchMessage", "Publisher", "Sender"]

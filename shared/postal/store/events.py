"""Outgoing events on the service's EventBridge bus, so AR platforms can react to every change."""

from __future__ import annotations

import json
from typing import Any

SOURCE = "postal-comms"
PUT_EVENTS_LIMIT = 10  # entries in one PutEvents call


class EventPublisher:
    def __init__(self, client: Any, bus_name: str):
        self.client = client
        self.bus = bus_name

    def _entry(self, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "EventBusName": self.bus,
        }

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """PutEvents and check FailedEntryCount: a silently dropped event is a bug."""
        self.publish_many(detail_type, [detail])

    def publish_many(self, detail_type: str, details: list[dict[str, Any]]) -> None:
        """Many events of one type, ten to a PutEvents call; the entries EventBridge refused are sent once more,
        then a refusal raises."""
        for start in range(0, len(details), PUT_EVENTS_LIMIT):
            entries = [self._entry(detail_type, d) for d in details[start : start + PUT_EVENTS_LIMIT]]
            for attempt in range(2):
                resp = self.client.put_events(Entries=entries)
                if not resp.get("FailedEntryCount"):
                    break
                failed = [e for e, r in zip(entries, resp.get("Entries", []), strict=False) if r.get("ErrorCode")]
                if attempt == 1 or not failed:
                    raise RuntimeError(
                        f"EventBridge refused {resp.get('FailedEntryCount')} events: {resp.get('Entries')}"
                    )
                entries = failed

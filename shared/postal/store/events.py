"""Outgoing events on the service's EventBridge bus, so AR platforms can react to every change."""

from __future__ import annotations

import json
from typing import Any

SOURCE = "postal-comms"


class EventPublisher:
    def __init__(self, client: Any, bus_name: str):
        self.client = client
        self.bus = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """PutEvents and check FailedEntryCount: a silently dropped event is a bug."""
        resp = self.client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": self.bus,
                }
            ]
        )
        if resp.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {resp.get('Entries')}")

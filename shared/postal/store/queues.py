"""SQS producer: messages are pydantic models serialised as JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Queue:
    def __init__(self, client: Any, url: str):
        self.client = client
        self.url = url

    def send(self, message: BaseModel, delay_seconds: int = 0) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=message.model_dump_json(), DelaySeconds=delay_seconds)

"""Once-only marks: a provider's webhook event is processed once (a conditional put with a TTL)."""

from __future__ import annotations

from postal.store import keys
from postal.store.dynamo import serialize
from postal.store.table import Table


def webhook_sk(provider: str, event_id: str) -> str:
    return f"WEBHOOK#{provider}#{event_id}"


class DedupeRepository(Table):
    """First sight of something, once per key."""

    def mark_webhook_event(self, org_id: str, provider: str, event_id: str, *, expires_at: int) -> bool:
        """First sight of a provider event: True; a replay: False (kept until `expires_at`, past any retry)."""
        return self._put_once({"PK": keys.org_pk(org_id), "SK": webhook_sk(provider, event_id)}, expires_at=expires_at)

    def forget_webhook_event(self, org_id: str, provider: str, event_id: str) -> None:
        """Undo `mark_webhook_event` when processing failed, so the provider's retry is processed."""
        self.client.delete_item(
            TableName=self.table, Key=serialize({"PK": keys.org_pk(org_id), "SK": webhook_sk(provider, event_id)})
        )

"""Applying letter status changes: the one way a letter's status changes, and each change's event.

Every caller (dispatch, webhooks and reconciliation, the letters API, uploads, the disconnect cascade) builds a
`postal.letters.status.StatusChange` and hands it here: the letters repository applies it under its conditions,
and each change that applied goes out on EventBridge as `LetterStatusChanged` (PRODUCT.md §3), a batch of them
in `PutEvents` calls of up to ten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from postal.letters.model import Letter, status_event_detail
from postal.letters.status import StatusChange, after
from postal.models import LetterStatus

if TYPE_CHECKING:
    from postal.ports import Letters, Publisher

DETAIL_TYPE = "LetterStatusChanged"


def publish_change(events: Publisher, letter: Letter, previous: LetterStatus | None) -> None:
    """A letter's event: its new status and the one before (None for a new letter)."""
    events.publish(DETAIL_TYPE, status_event_detail(letter, previous))


def change(letters: Letters, events: Publisher, letter: Letter, status_change: StatusChange) -> Letter | None:
    """Apply one change to `letter` (as read by the caller); the letter as the change leaves it, or None when its
    conditions did not hold (nothing written, nothing published). No read after the write: the change says what
    it set."""
    if not letters.apply(letter.org_id, letter.letter_id, status_change):
        return None
    updated = after(letter, status_change)
    publish_change(events, updated, letter.status)
    return updated


def change_many(
    letters: Letters,
    events: Publisher,
    batch: Sequence[tuple[Letter, StatusChange]],
    *,
    job_id: str,
    counter: str,
) -> int:
    """Apply many changes in as few transactions as the limits allow, each counted once on the job; publish one
    event per change that applied. The number applied."""
    unique: dict[str, tuple[Letter, StatusChange]] = {}
    for letter, c in batch:
        unique.setdefault(letter.letter_id, (letter, c))  # one change per letter (the first), one event
    batch = list(unique.values())
    if not batch:
        return 0
    org_id = batch[0][0].org_id
    if any(letter.org_id != org_id for letter, _ in batch):
        raise ValueError("a batch of changes belongs to one org")
    applied = set(letters.apply_counted(org_id, [(lt.letter_id, c) for lt, c in batch], job_id, counter))
    details = [
        status_event_detail(after(letter, c), letter.status) for letter, c in batch if letter.letter_id in applied
    ]
    events.publish_many(DETAIL_TYPE, details)
    return len(details)

"""Following letters: one letter with its history and a PDF (or upload) URL, and the filtered list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from postal.errors import BadRequest, NotFound
from postal.letters.model import FORWARD, LetterEvent, LetterPage, LetterView, one_entry_per_status
from postal.models import LetterStatus

if TYPE_CHECKING:
    from postal.ports import Documents, Letters


def _event_order(event: LetterEvent) -> tuple[str, int]:
    try:
        rank = FORWARD.index(LetterStatus(event.status))
    except ValueError:
        rank = len(FORWARD)
    return event.occurred_at, rank


def get_letter(letters: Letters, documents: Documents, org_id: str, letter_id: str) -> LetterView:
    """One letter with its history (oldest first) and a presigned URL of its PDF."""
    letter = letters.get(org_id, letter_id)
    if letter is None:
        raise NotFound(f"letter '{letter_id}' not found")
    events = one_entry_per_status(sorted(letters.history(org_id, letter_id), key=_event_order))
    if letter.awaiting_upload:
        return LetterView(
            **letter.model_dump(),
            events=events,
            upload_url=documents.upload_url(letter.pdf_key, content_type="application/pdf"),
            upload_expires_in=documents.presign_seconds,
        )
    return LetterView(
        **letter.model_dump(),
        events=events,
        pdf_url=documents.download_url(letter.pdf_key, filename=f"{letter_id}.pdf"),
    )


def list_letters(
    letters: Letters,
    org_id: str,
    *,
    status: LetterStatus | None,
    customer_id: str | None,
    created_from: str | None,
    created_to: str | None,
    limit: int,
    cursor: str | None,
) -> LetterPage:
    if status and customer_id:
        raise BadRequest("filter by status or by customer_id, not both", code="conflicting_filters")
    items, next_cursor = letters.list(
        org_id,
        status=status.value if status else None,
        customer_id=customer_id,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )
    return LetterPage(letters=items, next_cursor=next_cursor)

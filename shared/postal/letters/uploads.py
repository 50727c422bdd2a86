"""Letters whose PDF is uploaded to S3 (`"upload": true`): where a letter's PDF lives, the letter that waits for
its upload, and the S3 event of the upload, which checks the PDF and queues (or fails) the letter."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from postal.documents.zones import zone_for
from postal.errors import DomainError
from postal.letters import changes as letter_changes
from postal.letters.changes import publish_change
from postal.letters.messages import SOURCE, DispatchMessage, Publisher, Sender
from postal.letters.model import Letter, LetterError, LetterEvent, LetterView, error_from_code
from postal.letters.provider import estimate
from postal.letters.requests import MAX_UPLOAD_BYTES
from postal.letters.status import Guard, Move, StatusChange
from postal.letters.views import get_letter
from postal.models import LetterStatus
from postal.providers.base import ProviderErrorCode

if TYPE_CHECKING:
    from postal.ports import Documents, Letters

logger = Logger(child=True)

UPLOAD_PREFIX = "uploads/letters/"


def pdf_key(org_id: str, letter_id: str) -> str:
    return f"orgs/{org_id}/letters/{letter_id}.pdf"


def upload_key(org_id: str, letter_id: str) -> str:
    """Where the client PUTs a letter's PDF; the bucket's event for this prefix checks and queues the letter."""
    return f"{UPLOAD_PREFIX}{org_id}/{letter_id}.pdf"


def await_upload(
    letters: Letters,
    documents: Documents,
    events: Publisher,
    letter: Letter,
    request_token: str,
) -> LetterView:
    """Store the letter in `created`, waiting for its PDF, and answer with a presigned PUT for it: the 6 MB of
    a Lambda invocation never decides how large a letter can be. `letter_uploaded` checks and queues it."""
    history = [LetterEvent(status=LetterStatus.CREATED.value, occurred_at=letter.created_at, source=SOURCE)]
    if letters.create(letter, history, request_token=request_token):
        publish_change(events, letter, None)
        logger.info("letter awaits its upload", extra={"org_id": letter.org_id, "letter_id": letter.letter_id})
    return get_letter(letters, documents, letter.org_id, letter.letter_id)


def letter_uploaded(
    letters: Letters, documents: Documents, queue: Sender, events: Publisher, key: str, size: int, now: str
) -> LetterStatus | None:
    """The PDF of a letter arrived at its upload key (S3 event): check it as an inline PDF is checked, then queue
    the letter, or fail it with the check's problems. Idempotent: a letter no longer awaiting is left alone.
    Returns the letter's new status, None when the key is no letter's upload."""
    match = re.fullmatch(rf"{re.escape(UPLOAD_PREFIX)}([^/]+)/([^/]+)\.pdf", key)
    if match is None:
        return None
    org_id, letter_id = match[1], match[2]
    letter = letters.get(org_id, letter_id)
    if letter is None or not letter.awaiting_upload or letter.pdf_key != key:
        return None
    problem, page_count, sha256, pdf = _check_upload(documents, letter, key, size)
    target = LetterStatus.FAILED if problem else LetterStatus.QUEUED
    event = LetterEvent(
        status=target.value, occurred_at=now, source=SOURCE, error_code=problem.code if problem else None
    )
    fields: dict[str, Any] = {"awaiting_upload": False, "page_count": page_count, "sha256": sha256}
    if problem is None:
        fields.update(_accepted(documents, letter, pdf, page_count, sha256))
    change = StatusChange(
        Move.UPLOAD,
        target,
        event,
        now,
        reason="upload_rejected" if problem else None,
        error=problem,
        fields=fields,
        guard=Guard.AWAITING_UPLOAD,
    )
    if letter_changes.change(letters, events, letter, change) is None:
        return None  # another delivery of the same event got there first
    if problem is None:
        queue.send(DispatchMessage(org_id=org_id, letter_id=letter_id))
    logger.info("letter upload checked", extra={"org_id": org_id, "letter_id": letter_id, "status": target.value})
    return target


def _check_upload(
    documents: Documents, letter: Letter, key: str, size: int
) -> tuple[LetterError | None, int, str, bytes]:
    """The uploaded PDF checked for the letter's window: (the problem that fails the letter or None, its page count,
    its sha256, its bytes). A PDF over the providers' limit is not even read."""
    from postal.documents.check import check_pdf

    if size > MAX_UPLOAD_BYTES:
        problem = error_from_code(
            ProviderErrorCode.FORMAT_ERROR, f"the PDF is {size} bytes; providers take at most {MAX_UPLOAD_BYTES}"
        )
        return problem, 0, "", b""
    pdf = documents.get(key)
    sha256 = hashlib.sha256(pdf).hexdigest()
    try:
        result = check_pdf(pdf, zone_for(letter.provider, letter.address_position))
    except DomainError as exc:  # not a PDF, damaged, encrypted, too complex: the letter fails, with the fix
        problem = error_from_code(ProviderErrorCode.FORMAT_ERROR, exc.message, {"check": exc.code, "fix": exc.fix})
        return problem, 0, sha256, pdf
    if not result.ok:
        problem = error_from_code(
            ProviderErrorCode.FORMAT_ERROR,
            f"the PDF does not fit the {result.zone_id} window layout",
            {"problems": [p.model_dump(mode="json") for p in result.problems]},
        )
        return problem, result.page_count, sha256, pdf
    return None, result.page_count, sha256, pdf


def _accepted(documents: Documents, letter: Letter, pdf: bytes, page_count: int, sha256: str) -> dict[str, Any]:
    """Store an accepted upload where inline letters are kept (the upload prefix expires after two days); the
    fields it sets on the letter: its PDF key and the estimated price."""
    canonical = pdf_key(letter.org_id, letter.letter_id)
    documents.put_pdf(canonical, pdf, {"letter-id": letter.letter_id, "org-id": letter.org_id, "sha256": sha256})
    fields: dict[str, Any] = {"pdf_key": canonical}
    price, currency = estimate(
        letter.provider,
        letter.recipient.country,
        page_count,
        color=letter.color,
        duplex=letter.duplex,
        postage=letter.postage,
    )
    fields.update({k: v for k, v in (("price", price), ("currency", currency)) if v is not None})
    return fields

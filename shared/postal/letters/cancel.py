"""Cancelling a letter: here while no dispatch holds it, else at the provider while the provider still allows it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from postal.errors import Conflict, NotFound, ProviderUnavailable
from postal.letters import changes as letter_changes
from postal.letters.messages import SOURCE, Publisher
from postal.letters.model import CANCELLABLE, FINAL, UNSUBMITTED, CancelOut, Letter, LetterEvent
from postal.letters.status import CLAIM_TTL_S, Guard, Move, StatusChange
from postal.models import LetterStatus
from postal.providers.base import ProviderError

if TYPE_CHECKING:
    from postal.ports import Letters
    from postal.providers.connections import ProviderFactory

logger = Logger(child=True)

CANCEL_WAIT_S = 3.0  # how long a cancel waits for a submission in progress (the API call has 29 s)
CANCEL_POLL_S = 0.2


def cancel_letter(
    letters: Letters,
    providers: ProviderFactory,
    events: Publisher,
    org_id: str,
    letter_id: str,
    now: str,
    *,
    sleep: Callable[[float], None] | None = None,
    wait_s: float | None = None,
) -> CancelOut:
    """Cancel locally before submission, else at the provider while it still allows it (409 with its reason).

    A letter being handed to the provider right now is waited for (up to `wait_s`), then cancelled at the provider;
    if the hand-over takes longer, the cancel is recorded at once and `cancel_queued` says so (202): the dispatch
    that holds the letter finds it cancelled when the provider answers and withdraws it there.
    """
    letter = letters.get(org_id, letter_id)
    if letter is None:
        raise NotFound(f"letter '{letter_id}' not found")
    if letter.status is LetterStatus.CANCELLED:
        return CancelOut(letter_id=letter_id, status=letter.status, cancelled_at_provider=False)
    if letter.status in FINAL or letter.status not in CANCELLABLE:
        raise _not_cancellable(letter)
    event = LetterEvent(status=LetterStatus.CANCELLED.value, occurred_at=now, source=SOURCE, reason="cancelled_by_user")
    by_user = StatusChange(Move.CANCEL_BY_USER, LetterStatus.CANCELLED, event, now, reason="cancelled_by_user")
    if letter.status in UNSUBMITTED:
        done = _cancel_unsubmitted(letters, events, letter, by_user, sleep=sleep, wait_s=wait_s)
        if isinstance(done, CancelOut):
            return done
        letter = done
    if letter.provider_letter_id is None or letter.status not in CANCELLABLE:
        raise _not_cancellable(letter)
    _cancel_at_provider(providers, org_id, letter, letter.provider_letter_id)
    letter_changes.change(letters, events, letter, by_user)
    logger.info("letter cancelled at provider", extra={"org_id": org_id, "letter_id": letter_id})
    return CancelOut(letter_id=letter_id, status=LetterStatus.CANCELLED, cancelled_at_provider=True)


def _cancel_unsubmitted(
    letters: Letters,
    events: Publisher,
    letter: Letter,
    by_user: StatusChange,
    *,
    sleep: Callable[[float], None] | None,
    wait_s: float | None,
) -> CancelOut | Letter:
    """Cancel a letter not yet at the provider: at once while no dispatch holds it, else once the dispatch let go
    (or after `wait_s`, queued behind it). The answer, or the letter as it now is when it reached the provider."""
    org_id, letter_id = letter.org_id, letter.letter_id
    # Only while no dispatch holds the letter: a claimed letter may be at the provider a moment from now.
    unheld = replace(by_user, guard=Guard.CLAIM_STALE, guard_value=_iso_before(by_user.at, CLAIM_TTL_S))
    if letter_changes.change(letters, events, letter, unheld) is not None:
        return CancelOut(letter_id=letter_id, status=LetterStatus.CANCELLED, cancelled_at_provider=False)
    letter = _wait_for_submission(
        letters, org_id, letter_id, sleep or time.sleep, CANCEL_WAIT_S if wait_s is None else wait_s
    )
    if letter.status in UNSUBMITTED and letter_changes.change(letters, events, letter, by_user) is not None:
        logger.info("cancel queued behind a submission", extra={"org_id": org_id, "letter_id": letter_id})
        return CancelOut(
            letter_id=letter_id, status=LetterStatus.CANCELLED, cancelled_at_provider=False, cancel_queued=True
        )
    letter = letters.get(org_id, letter_id) or letter
    if letter.status is LetterStatus.CANCELLED:
        return CancelOut(letter_id=letter_id, status=letter.status, cancelled_at_provider=False)
    return letter


def _wait_for_submission(
    letters: Letters, org_id: str, letter_id: str, sleep: Callable[[float], None], wait_s: float
) -> Letter:
    """The letter once no longer being handed to the provider, or as it is after `wait_s`."""
    waited = 0.0
    while True:
        letter = letters.get(org_id, letter_id)
        assert letter is not None  # letters are never deleted
        if letter.status not in UNSUBMITTED or waited >= wait_s:
            return letter
        sleep(CANCEL_POLL_S)
        waited += CANCEL_POLL_S


def _cancel_at_provider(providers: ProviderFactory, org_id: str, letter: Letter, provider_letter_id: str) -> None:
    """Withdraw the letter at the provider; a refusal is 409 (already in production), a fault 503."""
    try:
        # The connection the letter went through, even after a switch of provider.
        providers.for_ref(org_id, letter.secret_ref).cancel(provider_letter_id)
    except ProviderError as exc:
        if exc.retryable:
            raise ProviderUnavailable(exc.message, fix="retry the cancel later") from exc
        raise Conflict(
            f"the provider refused to cancel: {exc.message}",
            code="cancel_refused",
            details={
                "provider": letter.provider,
                "provider_code": exc.details.get("provider_code"),
                "request_id": exc.details.get("request_id"),
            },
            fix="the letter is already in production; it will be mailed",
        ) from exc


def _not_cancellable(letter: Letter) -> Conflict:
    return Conflict(
        f"the letter is {letter.status.value}; it can no longer be cancelled",
        code="letter_not_cancellable",
        details={"status": letter.status.value},
    )


def _iso_before(now: str, seconds: int) -> str:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

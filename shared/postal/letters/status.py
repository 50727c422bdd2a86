"""The one letter state machine: every change of a letter's status is one of these named moves.

Each move names the statuses it may lead to, the statuses it may start from and the guard it needs besides the
status (a claim, an awaited upload, ...). It is pure: the letters repository (`postal.store.letters`) renders a
`StatusChange` into one conditional DynamoDB transaction (the update and its history entry), the in-memory fake
evaluates the same change with `holds`, and `postal.letters.changes` is the one service that applies changes and
publishes their `LetterStatusChanged` events. No other code writes a letter's status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from postal.letters.model import (
    CANCELLABLE,
    FINAL,
    FORWARD,
    UNSUBMITTED,
    Letter,
    LetterError,
    LetterEvent,
    predecessors,
)
from postal.models import LetterStatus

S = LetterStatus

# A dispatch's claim on a queued letter goes stale after this long: longer than DispatchFunction's Timeout (120 s
# in template.yaml; tests/infra checks it), so a claim held by a running dispatch is never taken by another.
CLAIM_TTL_S = 180
# The code a failure carries when no provider was reached (the one failure a redrive may retry).
UNREACHED_CODE = "provider_unavailable"


class Move(StrEnum):
    """The named transitions."""

    SUBMIT = "submit"  # a dispatch handed the letter over: queued (claimed by it) -> submitted | accepted
    PROVIDER_UPDATE = "provider_update"  # what the provider reports (webhook, reconciliation)
    UPLOAD = "upload"  # the PDF of a letter awaiting its upload arrived: -> queued, or failed when refused
    CANCEL_BY_USER = "cancel_by_user"
    CANCEL_ON_DISCONNECT = "cancel_on_disconnect"  # the integration was disconnected before any provider had it
    WITHDRAW_AFTER_DISCONNECT = "withdraw_after_disconnect"  # handed over as the disconnect committed: withdrawn
    FAIL = "fail"  # our own failure (rendering, a provider's refusal at submission)
    REDRIVE = "redrive"  # failed without reaching any provider -> queued again (a DLQ redrive)


class Guard(StrEnum):
    """What a change needs of the letter besides its status."""

    CLAIMED_BY = "claimed_by"  # the dispatch claim is this message's (value: the message id)
    UNCLAIMED = "unclaimed"  # no dispatch holds the letter
    CLAIM_STALE = "claim_stale"  # no claim, or one taken before the value (an ISO time)
    AWAITING_UPLOAD = "awaiting_upload"  # the letter still waits for its uploaded PDF
    UNREACHED = "unreached"  # failed as provider_unavailable and never given a provider's id


_AFTER_QUEUED = frozenset(FORWARD[FORWARD.index(S.SUBMITTED) :]) | {S.FAILED, S.UNDELIVERABLE, S.CANCELLED}


@dataclass(frozen=True, slots=True)
class Rule:
    targets: frozenset[LetterStatus]
    guards: frozenset[Guard] = frozenset()  # the guards the move may carry
    guard_required: bool = False
    sources: frozenset[LetterStatus] | None = None  # None: `predecessors(target)`


RULES: Mapping[Move, Rule] = {
    Move.SUBMIT: Rule(frozenset({S.SUBMITTED, S.ACCEPTED}), frozenset({Guard.CLAIMED_BY}), True, frozenset({S.QUEUED})),
    Move.PROVIDER_UPDATE: Rule(_AFTER_QUEUED),
    Move.UPLOAD: Rule(frozenset({S.QUEUED, S.FAILED}), frozenset({Guard.AWAITING_UPLOAD}), True),
    Move.CANCEL_BY_USER: Rule(frozenset({S.CANCELLED}), frozenset({Guard.CLAIM_STALE}), False, CANCELLABLE),
    Move.CANCEL_ON_DISCONNECT: Rule(
        frozenset({S.CANCELLED}), frozenset({Guard.UNCLAIMED}), False, frozenset(UNSUBMITTED)
    ),
    Move.WITHDRAW_AFTER_DISCONNECT: Rule(frozenset({S.CANCELLED}), sources=CANCELLABLE - set(UNSUBMITTED)),
    Move.FAIL: Rule(frozenset({S.FAILED})),
    Move.REDRIVE: Rule(frozenset({S.QUEUED}), frozenset({Guard.UNREACHED}), True, frozenset({S.FAILED})),
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One move of one letter to `target`, with its history entry and the fields that change with it."""

    move: Move
    target: LetterStatus
    event: LetterEvent
    at: str
    reason: str | None = None
    error: LetterError | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    guard: Guard | None = None
    guard_value: str | None = None

    def __post_init__(self) -> None:
        rule = RULES[self.move]
        if self.target not in rule.targets:
            raise ValueError(f"{self.move} cannot lead to {self.target}")
        if self.guard is None and rule.guard_required:
            raise ValueError(f"{self.move} needs one of the guards {sorted(rule.guards)}")
        if self.guard is not None and self.guard not in rule.guards:
            raise ValueError(f"{self.move} does not take the guard {self.guard}")
        if "status" in self.fields:
            raise ValueError("the status is the change's target, not one of its fields")

    @property
    def sources(self) -> frozenset[LetterStatus]:
        """The statuses this change may start from."""
        fixed = RULES[self.move].sources
        return (fixed if fixed is not None else predecessors(self.target)) - {self.target}

    @property
    def from_estimated_delivery(self) -> bool:
        """A return after an *estimated* delivery (PostGrid `completed`): the one exit from a final status."""
        return self.move is Move.PROVIDER_UPDATE and self.target is S.UNDELIVERABLE


def holds(change: StatusChange, item: Mapping[str, Any]) -> bool:
    """Whether `change` may apply to a stored letter `item` (the repository's condition, evaluated in memory)."""
    status = item.get("status")
    from_source = status in {s.value for s in change.sources}
    estimated_exit = change.from_estimated_delivery and status == S.DELIVERED.value and item.get("delivery_estimated")
    return bool(from_source or estimated_exit) and guard_holds(change.guard, change.guard_value, item)


def guard_holds(guard: Guard | None, value: str | None, item: Mapping[str, Any]) -> bool:
    if guard is None:
        return True
    claim = item.get("claim_message")
    if guard is Guard.CLAIMED_BY:
        return claim is not None and claim == value
    if guard is Guard.UNCLAIMED:
        return claim is None
    if guard is Guard.CLAIM_STALE:
        claimed_at = item.get("claimed_at")
        return claimed_at is None or (value is not None and str(claimed_at) < value)
    if guard is Guard.AWAITING_UPLOAD:
        return item.get("awaiting_upload") is True
    error = item.get("error") or {}
    return error.get("code") == UNREACHED_CODE and item.get("provider_letter_id") is None


# ------------------------------------------------------------------------------------------ the moves, built


def submit(
    target: LetterStatus,
    event: LetterEvent,
    *,
    at: str,
    message_id: str,
    provider: str,
    provider_letter_id: str,
    price: Any = None,
    currency: str | None = None,
    secret_ref: str | None = None,
) -> StatusChange:
    """queued (claimed by `message_id`) -> submitted/accepted, with the provider's id and the connection used."""
    fields: dict[str, Any] = {"provider_letter_id": provider_letter_id, "provider": provider, "submitted_at": at}
    if secret_ref:
        fields["secret_ref"] = secret_ref
    if price is not None:
        fields.update(price=price, currency=currency)
    return StatusChange(
        Move.SUBMIT,
        target,
        event,
        at,
        fields=fields,
        remove=("claim_message", "claimed_at", "last_error"),
        guard=Guard.CLAIMED_BY,
        guard_value=message_id,
    )


def cancel_on_disconnect(event: LetterEvent, at: str, reason: str, *, unclaimed: bool) -> StatusChange:
    """Cancelled because the integration was disconnected; `unclaimed` when no dispatch may hold the letter
    (the cascade), False for the dispatch that holds it itself."""
    return StatusChange(
        Move.CANCEL_ON_DISCONNECT,
        S.CANCELLED,
        event,
        at,
        reason=reason,
        guard=Guard.UNCLAIMED if unclaimed else None,
    )


def after(letter: Letter, change: StatusChange) -> Letter:
    """The letter as `change` leaves it (what its event reports), from the letter as read before the change: the
    change's own fields over the rest, internal attributes (the claim) aside."""
    fields = Letter.model_fields
    updates: dict[str, Any] = {k: v for k, v in change.fields.items() if k in fields}
    updates |= {name: fields[name].get_default() for name in change.remove if name in fields}
    updates |= {"status": change.target, "updated_at": change.at}
    if change.reason is not None:
        updates["status_reason"] = change.reason
    if change.error is not None:
        updates["error"] = change.error
    return letter.model_copy(update=updates)


__all__ = [
    "CLAIM_TTL_S",
    "FINAL",
    "RULES",
    "UNSUBMITTED",
    "Guard",
    "Move",
    "StatusChange",
    "after",
    "cancel_on_disconnect",
    "holds",
    "submit",
]

"""Provider callbacks (`POST /v1/webhooks/{provider}/{org_id}`): authenticate, dedupe, apply the state machine.

A callback is authenticated with the credentials of one of the org's connections to that provider, the current one
first (letters keep the connection they were sent with, also after a disconnect or a switch of provider); anything
else is 401 with one answer for every reason. A failed letter opens a task for a person.

Every event goes into the letter's history; only a legal forward move changes the status (providers.md §5.1).
Returned mail marks the customer's address `returned`, opens a `fix_address` task and, when the org chose the email
fallback, asks the AR platform to email the customer instead (PRODUCT.md §3).
"""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from postal.errors import NotFound, Unauthorized
from postal.letters import Letter, LetterError, LetterEvent, error_from_code
from postal.letters import changes as letter_changes
from postal.letters.status import RULES, Move, StatusChange
from postal.models import LetterStatus, ReturnedMailFallback, Task, TaskKind
from postal.ports import Letters, Publisher, Stores
from postal.providers.base import InvalidSignature, WebhookEvent
from postal.providers.connections import ProviderFactory

logger = Logger(child=True)

DEDUPE_TTL_S = 30 * 86400  # longer than any provider's retry schedule
ESTIMATED_DELIVERY = {("postgrid", "completed")}


class WebhookResult(BaseModel):
    received: int
    applied: int
    duplicates: int


UNAUTHENTICATED = "the webhook could not be authenticated"


def _unauthenticated() -> Unauthorized:
    # One answer for a bad signature, an unknown org, a never-connected org and a provider mismatch: a caller
    # without the credentials learns nothing about the org.
    return Unauthorized(UNAUTHENTICATED, code="invalid_signature")


def authenticate(
    providers: ProviderFactory, provider_name: str, org_id: str, headers: dict[str, str], raw_body: bytes
) -> list[WebhookEvent]:
    """The events of a callback that verifies with one of the org's connections to `provider_name` (the current
    one first, then earlier ones: letters keep the connection they were sent with); else `Unauthorized`."""
    for adapter in providers.webhook_candidates(org_id, provider_name):
        try:
            return adapter.parse_webhook(headers, raw_body)
        except InvalidSignature:
            continue
    raise _unauthenticated()


def handle(
    stores: Stores,
    letters: Letters,
    providers: ProviderFactory,
    events: Publisher,
    provider_name: str,
    org_id: str,
    headers: dict[str, str],
    raw_body: bytes,
    now: str,
) -> WebhookResult:
    parsed = authenticate(providers, provider_name, org_id, headers, raw_body)
    applied = duplicates = 0
    for event in parsed:
        if not stores.dedupe.mark_webhook_event(
            org_id, provider_name, event.event_id, expires_at=int(time.time()) + DEDUPE_TTL_S
        ):
            duplicates += 1
            continue
        try:
            applied += _apply(stores, letters, events, org_id, event, now)
        except Exception:
            # Processing failed: forget the event so the provider's retry is processed, not deduplicated away.
            stores.dedupe.forget_webhook_event(org_id, provider_name, event.event_id)
            raise
    return WebhookResult(received=len(parsed), applied=applied, duplicates=duplicates)


def _find_letter_id(letters: Letters, org_id: str, event: WebhookEvent) -> str | None:
    echoed = letters.get(org_id, event.letter_id) if event.letter_id else None
    # Only a letter handed to this provider: a callback verified by one connection never moves another's letter.
    if echoed is not None and echoed.provider == event.provider:
        return echoed.letter_id
    if event.provider_letter_id:
        return letters.find_by_provider_id(org_id, event.provider, event.provider_letter_id)
    return None


def apply_event(stores: Stores, letters: Letters, events: Publisher, org_id: str, event: WebhookEvent, now: str) -> int:
    """Apply one provider event through the state machine (also used by the letter reconciliation); 1 if it moved
    the letter."""
    return _apply(stores, letters, events, org_id, event, now)


def _apply(stores: Stores, letters: Letters, events: Publisher, org_id: str, event: WebhookEvent, now: str) -> int:
    letter_id = _find_letter_id(letters, org_id, event)
    if letter_id is None:
        # Possibly not recorded yet (the provider answered faster than our dispatch wrote): let it retry.
        raise NotFound("unknown letter", code="letter_not_found")
    letter = letters.get(org_id, letter_id)
    assert letter is not None
    if event.provider_letter_id and not letter.provider_letter_id:
        letters.set_provider_ref(org_id, letter_id, event.provider, event.provider_letter_id)
        letter = letter.model_copy(update={"provider_letter_id": event.provider_letter_id})
    entry = _history_entry(event)
    if event.status is None or event.status not in RULES[Move.PROVIDER_UPDATE].targets:
        # Informational, or a status only we set (created, rendered, queued): history only.
        letters.record_history(org_id, letter_id, entry.model_copy(update={"applied": False}))
        return 0
    error = _error_of(event, event.status)
    # PostGrid's raw status is "<status>/<imbStatus>": `completed/out_for_delivery` is still only an estimate.
    estimated = (event.provider, event.raw_status.partition("/")[0]) in ESTIMATED_DELIVERY
    fields = {"delivery_estimated": True} if estimated else None
    change = StatusChange(
        Move.PROVIDER_UPDATE, event.status, entry, now, reason=event.reason, error=error, fields=fields or {}
    )
    updated = letter_changes.change(letters, events, letter, change)
    if updated is None:
        # Late, duplicate or backwards: history only (providers.md §5.1).
        letters.record_history(org_id, letter_id, entry.model_copy(update={"applied": False}))
        return 0
    if event.status is LetterStatus.UNDELIVERABLE and updated.customer_id:
        _returned_mail(stores, events, org_id, updated.customer_id, letter_id, now)
    if event.status is LetterStatus.FAILED and error is not None:
        failed_letter_task(stores, updated, error, now)
    logger.info(
        "letter status from provider", extra={"org_id": org_id, "letter_id": letter_id, "status": event.status.value}
    )
    return 1


def _history_entry(event: WebhookEvent) -> LetterEvent:
    """The provider's report as an entry of the letter's history (a status we do not map keeps its raw name)."""
    return LetterEvent(
        status=event.status.value if event.status else event.raw_status,
        occurred_at=event.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        source=event.provider,
        raw_status=event.raw_status,
        reason=event.reason,
        event_id=event.event_id,
        error_code=event.error_code,
    )


def _error_of(event: WebhookEvent, status: LetterStatus) -> LetterError | None:
    """Why a letter failed or came back, with the standard fix (or the provider's own); None for other statuses."""
    if status not in (LetterStatus.FAILED, LetterStatus.UNDELIVERABLE):
        return None
    default = "undeliverable" if status is LetterStatus.UNDELIVERABLE else "rejected_by_provider"
    error = error_from_code(
        event.error_code or default,
        event.reason or event.raw_status,
        {"provider": event.provider, "raw_status": event.raw_status, **event.details},
    )
    if event.fix:
        error = error.model_copy(update={"fix": event.fix})
    return error


def failed_letter_task(stores: Stores, letter: Letter, error: LetterError, now: str) -> None:
    """A letter the provider will not mail needs a person: one task per letter, naming the reason and the fix."""
    stores.tasks.open_task(
        Task(
            task_id=f"task_failed_{letter.letter_id}",
            org_id=letter.org_id,
            kind=TaskKind.MANUAL_INTERVENTION,
            customer_id=letter.customer_id,
            note=f"letter {letter.letter_id} failed at {letter.provider} ({error.code}): {error.message}. "
            f"Fix: {error.fix}",
            created_at=now,
        )
    )


def _returned_mail(stores: Stores, events: Publisher, org_id: str, customer_id: str, letter_id: str, now: str) -> None:
    """Mark the address bad (postal steps pause for the customer), open one fix-address task per letter, and, when
    the org asked for it and the customer has an email address, ask the AR platform to email instead."""
    stores.customers.mark_address_returned(org_id, customer_id, now)
    stores.tasks.open_task(
        Task(
            task_id=f"task_fix_{letter_id}",
            org_id=org_id,
            kind=TaskKind.FIX_ADDRESS,
            customer_id=customer_id,
            note=f"letter {letter_id} came back undeliverable: correct the billing address",
            created_at=now,
        )
    )
    if stores.orgs.get_org(org_id).returned_mail_fallback != ReturnedMailFallback.EMAIL:
        return
    if not stores.customers.get_customer(org_id, customer_id).email:
        logger.info("returned mail: no email to fall back to", extra={"org_id": org_id, "letter_id": letter_id})
        return
    # Sent once: only the webhook event that moved the letter to `undeliverable` gets here. `run_id` is stable, so
    # the AR platform can deduplicate a retried delivery of the event.
    events.publish(
        "CommunicationDue",
        {
            "org_id": org_id,
            "run_id": f"returned:{letter_id}",
            "channel": "email",
            "customer_id": customer_id,
            "letter_id": letter_id,
            "reason": "returned_mail",
        },
    )

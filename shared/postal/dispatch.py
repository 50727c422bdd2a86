"""Dispatch: hand one queued letter to the org's provider, exactly once (providers.md §5, PRODUCT.md §2.3, §3).

Per SQS message `{org_id, letter_id}`:
1. Load the letter; anything past `queued` is a duplicate and is acknowledged. A letter that failed only because
   the provider was unreachable (dead-lettered) is re-queued: that is what a DLQ redrive is for.
2. Re-read the integration (consistent read), then claim the letter in ONE transaction that also checks the
   integration is still `connected` at the generation just read. A disconnect that commits first makes the claim
   fail: the letter is cancelled (`integration_disconnected`) and nothing reaches the provider.
3. Submit. Exactly once across crashes: the claim records an attempt, and any later attempt first asks the
   provider for the letter by our reference (`find_by_reference`); Pingen, the sandbox and the generic API are
   also idempotent on our letter id.
4. Record `submitted` with the provider's id (GSI3) in a transaction conditioned on our claim.

Retryable provider faults release the claim and raise (SQS redelivers; after maxReceiveCount the message goes to
the DLQ). On the last receive the letter is marked `failed` / `provider_unavailable` first, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from aws_lambda_powertools import Logger

from postal.letters import DispatchMessage, Letter, LetterError, LetterEvent, can_move, error_from_code
from postal.letters import changes as letter_changes
from postal.letters.status import CLAIM_TTL_S, Guard, Move, StatusChange, cancel_on_disconnect, submit
from postal.models import IntegrationStatus, LetterStatus, Task, TaskKind
from postal.ports import ClaimOutcome, Documents, Letters, Publisher, Stores
from postal.providers.base import LetterSubmission, PostalProvider, ProviderError, ProviderErrorCode, SubmitResult
from postal.providers.connections import ProviderFactory

logger = Logger(child=True)

SOURCE = "postal-comms"
# template.yaml DispatchQueue: RedrivePolicy.maxReceiveCount.
MAX_RECEIVES = 5
CLAIM_ATTRS = ("claim_message", "claimed_at")
# A staged upload is reused only while its URL stays valid this much longer (the create must still read it).
STAGE_MARGIN_S = 120
LATE_SUBMISSION_REASON = "submitted_after_disconnect"


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"
    FAILED = "failed"
    MISSING = "missing"
    HELD_ELSEWHERE = "held_elsewhere"


class RetryLater(Exception):
    """Raised so SQS redelivers the message (partial batch failure)."""


def _minus(now: str, seconds: int) -> str:
    return _plus(now, -seconds)


def _still_valid(expires_at: str | None, now: str) -> bool:
    """True while `expires_at` (any ISO form; empty = no expiry given) is more than STAGE_MARGIN_S away."""
    if not expires_at:
        return True
    try:
        expires = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires > datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(seconds=STAGE_MARGIN_S)


def _plus(now: str, seconds: int) -> str:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Dispatcher:
    """Everything one dispatch needs; `clock` returns ISO timestamps (injectable for tests)."""

    def __init__(
        self,
        *,
        stores: Stores,
        providers: ProviderFactory,
        documents: Documents,
        events: Publisher,
        clock: Callable[[], str],
    ):
        self.stores = stores
        self.letters: Letters = stores.letters
        self.providers = providers
        self.documents = documents
        self.events = events
        self.clock = clock

    def _now(self) -> str:
        return self.clock()

    def _change(self, org_id: str, letter_id: str, change: StatusChange, before: Letter | None = None) -> bool:
        """Apply one status change (and publish it); False when its conditions did not hold."""
        letter = before or self.letters.get(org_id, letter_id)
        if letter is None:
            return False
        return letter_changes.change(self.letters, self.events, letter, change) is not None

    def _cancel_disconnected(self, letter: Letter) -> Outcome:
        org_id, letter_id = letter.org_id, letter.letter_id
        now = self._now()
        event = LetterEvent(
            status=LetterStatus.CANCELLED.value, occurred_at=now, source=SOURCE, reason="integration_disconnected"
        )
        # This dispatch read the letter queued and holds it itself, so no claim guard.
        self._change(
            org_id, letter_id, cancel_on_disconnect(event, now, "integration_disconnected", unclaimed=False), letter
        )
        logger.info("letter cancelled: integration disconnected", extra={"org_id": org_id, "letter_id": letter_id})
        return Outcome.CANCELLED

    def _fail(self, org_id: str, letter_id: str, error: LetterError) -> None:
        now = self._now()
        event = LetterEvent(
            status=LetterStatus.FAILED.value, occurred_at=now, source=SOURCE, reason=error.code, error_code=error.code
        )
        change = StatusChange(
            Move.FAIL, LetterStatus.FAILED, event, now, reason=error.code, error=error, remove=CLAIM_ATTRS
        )
        self._change(org_id, letter_id, change)

    def dispatch(self, message: DispatchMessage, *, message_id: str, receive_count: int) -> Outcome:
        """Process one message; raises `RetryLater` (or any error) to have SQS deliver it again."""
        org_id, letter_id = message.org_id, message.letter_id
        try:
            return self._dispatch(org_id, letter_id, message_id)
        except ProviderError as exc:
            error = LetterError(code=exc.code, message=exc.message, fix=exc.fix, details=exc.details)
            if not exc.retryable:
                self._fail(org_id, letter_id, error)
                logger.warning("letter failed", extra={"org_id": org_id, "letter_id": letter_id, "code": exc.code})
                return Outcome.FAILED
            self._retry_or_give_up(org_id, letter_id, message_id, receive_count, error)
            raise RetryLater(exc.code) from exc
        except RetryLater:
            raise
        except Exception as exc:
            # Our own fault (DynamoDB, S3, a bug): same budget as a provider fault, and the same final record.
            error = error_from_code(
                ProviderErrorCode.PROVIDER_UNAVAILABLE,
                "the letter could not be handed over",
                {"reason": type(exc).__name__},
            )
            self._retry_or_give_up(org_id, letter_id, message_id, receive_count, error)
            raise

    def _retry_or_give_up(
        self, org_id: str, letter_id: str, message_id: str, receive_count: int, error: LetterError
    ) -> None:
        if receive_count >= MAX_RECEIVES and error.details.get("ambiguous"):
            # The provider may hold the letter (its answer was lost or unreadable): `failed` would invite a resend
            # that mails it twice. It stays queued for the DLQ redrive, which looks it up before anything else,
            # and a person is told.
            self.letters.release_claim(org_id, letter_id, message_id, error)
            self.stores.tasks.open_task(
                Task(
                    task_id=f"task_unconfirmed_{letter_id}",
                    org_id=org_id,
                    kind=TaskKind.MANUAL_INTERVENTION,
                    note=f"letter {letter_id}: the provider's answer was lost after {receive_count} attempts "
                    f"({error.message}); it may hold the letter. Redrive the dispatch DLQ (make redrive) once the "
                    "provider is reachable: the letter is looked up before it is ever sent again.",
                    created_at=self._now(),
                )
            )
            logger.error("letter outcome unknown, dead-lettered", extra={"org_id": org_id, "letter_id": letter_id})
        elif receive_count >= MAX_RECEIVES:
            # The message goes to the DLQ after this receive: the letter must say so, never just vanish.
            last = error_from_code(
                ProviderErrorCode.PROVIDER_UNAVAILABLE,
                f"the provider could not be reached after {receive_count} attempts: {error.message}",
                {**error.details, "last_code": error.code, "attempts": receive_count},
            )
            self._fail(org_id, letter_id, last)
            logger.error("letter dead-lettered", extra={"org_id": org_id, "letter_id": letter_id})
        else:
            self.letters.release_claim(org_id, letter_id, message_id, error)
            logger.warning(
                "dispatch will retry",
                extra={"org_id": org_id, "letter_id": letter_id, "code": error.code, "receive": receive_count},
            )

    def _dispatch(self, org_id: str, letter_id: str, message_id: str) -> Outcome:
        letter = self.letters.get(org_id, letter_id)
        if letter is None:
            return Outcome.MISSING
        if letter.status is LetterStatus.FAILED and not letter.provider_letter_id:
            letter = self._redrive(letter)
        if letter.status is not LetterStatus.QUEUED:
            return Outcome.DUPLICATE

        integration = self.stores.integrations.get_integration(org_id, consistent=True)
        if integration.status != IntegrationStatus.CONNECTED:
            return self._cancel_disconnected(letter)
        now = self._now()
        claim = self.letters.claim(
            org_id,
            letter_id,
            generation=integration.generation,
            message_id=message_id,
            at=now,
            stale_before=_minus(now, CLAIM_TTL_S),
        )
        if claim is ClaimOutcome.INTEGRATION_CHANGED:
            current = self.stores.integrations.get_integration(org_id, consistent=True)
            if current.status != IntegrationStatus.CONNECTED:
                return self._cancel_disconnected(letter)
            raise RetryLater("integration reconnected meanwhile")
        if claim is ClaimOutcome.UNAVAILABLE:
            # Another message holds the claim (it is redelivered until it finishes) or the letter moved on.
            return Outcome.HELD_ELSEWHERE

        secret_ref = self.stores.integrations.secret_ref(org_id)
        provider = self.providers.for_ref(org_id, secret_ref)
        result: SubmitResult | None = None
        if letter.dispatch_attempts > 0:
            # An earlier attempt may have reached the provider before it died: never mail twice.
            result = provider.find_by_reference(letter_id)
        if result is None:
            submission = self._submission(org_id, letter_id, letter)
            submission.staged = self._staged(letter, provider, submission)
            result = provider.submit(submission)
        if self._record(org_id, letter_id, message_id, provider, result, secret_ref):
            self._fence_after_the_fact(org_id, letter_id, integration.generation, provider, result)
        return Outcome.SUBMITTED

    def _redrive(self, letter: Letter) -> Letter:
        """A letter that failed only because no provider could be reached (a DLQ redrive) goes back to `queued`;
        the letter as it now is."""
        now = self._now()
        event = LetterEvent(status=LetterStatus.QUEUED.value, occurred_at=now, source=SOURCE, reason="redriven")
        change = StatusChange(
            Move.REDRIVE,
            LetterStatus.QUEUED,
            event,
            now,
            reason="redriven",
            remove=("error", *CLAIM_ATTRS),
            guard=Guard.UNREACHED,
        )
        return letter_changes.change(self.letters, self.events, letter, change) or letter

    def _submission(self, org_id: str, letter_id: str, letter: Letter) -> LetterSubmission:
        """What the provider is handed: the stored PDF (and a URL to it), the recipient and the org's sender."""
        branding = self.stores.orgs.get_org(org_id).branding
        return LetterSubmission(
            letter_id=letter_id,
            org_id=org_id,
            pdf=self.documents.get(letter.pdf_key),
            pdf_url=self.documents.download_url(letter.pdf_key),
            file_name=f"{letter_id}.pdf",
            recipient=letter.recipient,
            sender=branding.sender_address if branding else None,
            postage=letter.postage,
            color=letter.color,
            duplex=letter.duplex,
            address_position=letter.address_position,
            page_count=letter.page_count,
        )

    def _fence_after_the_fact(
        self, org_id: str, letter_id: str, generation: int, adapter: PostalProvider, result: SubmitResult
    ) -> None:
        """The claim was fenced by the connection, but a disconnect may commit while the provider call is in flight
        (PRODUCT §2.3: nothing is submitted after the disconnect). If it did, cancel the letter at the provider;
        where it no longer allows that, list the letter on the disconnect job (`submitted_after_disconnect`)."""
        current = self.stores.integrations.get_integration(org_id, consistent=True)
        if current.generation == generation:
            return
        now = self._now()
        try:
            adapter.cancel(result.provider_letter_id)
        except ProviderError as exc:
            logger.error(
                "letter submitted after the disconnect and not cancellable",
                extra={"org_id": org_id, "letter_id": letter_id, "code": exc.code},
            )
            if current.last_job_id:
                self.stores.jobs.add_submitted_after_disconnect(org_id, current.last_job_id, letter_id)
            return
        event = LetterEvent(
            status=LetterStatus.CANCELLED.value, occurred_at=now, source=SOURCE, reason=LATE_SUBMISSION_REASON
        )
        withdrawn = StatusChange(
            Move.WITHDRAW_AFTER_DISCONNECT, LetterStatus.CANCELLED, event, now, reason=LATE_SUBMISSION_REASON
        )
        self._change(org_id, letter_id, withdrawn)
        logger.warning("letter submitted after the disconnect: cancelled at the provider", extra={"org_id": org_id})

    def _staged(self, letter: Letter, provider: PostalProvider, submission: LetterSubmission) -> dict[str, str] | None:
        """The adapter's staged create input (Pingen: one upload per letter), kept on the letter so that every
        retry sends the same request under the same idempotency key. A staged upload whose URL has expired is
        replaced (Pingen replays a create it already accepted by its key alone)."""
        stage = getattr(provider, "stage", None)
        if stage is None:
            return None
        kept = letter.staged or {}
        if kept.get("provider") == provider.name and _still_valid(kept.get("expires_at"), self._now()):
            return {k: v for k, v in kept.items() if k != "provider"}
        staged: dict[str, str] = stage(submission)
        self.letters.set_staged(letter.org_id, letter.letter_id, {"provider": provider.name, **staged})
        return staged

    def _record(
        self,
        org_id: str,
        letter_id: str,
        message_id: str,
        adapter: PostalProvider,
        result: SubmitResult,
        secret_ref: str | None,
    ) -> bool:
        """Record the hand-over; True when this dispatch recorded it (False: a webhook or a cancel came first)."""
        provider = adapter.name
        now = self._now()
        target = result.status if can_move(LetterStatus.QUEUED, result.status) else LetterStatus.SUBMITTED
        event = LetterEvent(status=target.value, occurred_at=now, source=provider, raw_status=result.raw_status)
        change = submit(
            target,
            event,
            at=now,
            message_id=message_id,
            provider=provider,
            provider_letter_id=result.provider_letter_id,
            price=result.price,
            currency=result.currency,
            secret_ref=secret_ref,
        )
        if self._change(org_id, letter_id, change):
            logger.info("letter submitted", extra={"org_id": org_id, "letter_id": letter_id, "provider": provider})
            return True
        # Not ours any more: a provider webhook got there first, or the letter was cancelled meanwhile. Keep the
        # provider's id either way so the letter can be followed (and cancelled at the provider).
        self.letters.set_provider_ref(org_id, letter_id, provider, result.provider_letter_id)
        letter = self.letters.get(org_id, letter_id)
        if letter is not None and letter.status is LetterStatus.CANCELLED:
            try:
                adapter.cancel(result.provider_letter_id)
            except ProviderError as exc:
                logger.error(
                    "letter cancelled here but not at the provider",
                    extra={"org_id": org_id, "letter_id": letter_id, "code": exc.code},
                )
        return False

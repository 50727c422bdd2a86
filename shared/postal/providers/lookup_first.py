"""Exactly-once without an idempotency key: look the letter up before creating it (PostGrid, MySendingBox).

Every letter carries our `letter_id` in its metadata and description; `submit` looks it up first and creates only
when nothing is found, and an ambiguous create (5xx, timeout, dropped response) is never blindly repeated: the
lookup runs again first. Both providers also keep each letter at `<letters path>/{id}`: GET reads it, DELETE
cancels it.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from postal.codes import Code
from postal.errors import ProviderError, UnreadableAnswer
from postal.models import LetterStatus
from postal.providers.base import LetterSubmission, ProviderLetter, SubmitResult
from postal.providers.http import TRANSIENT_FIX, HttpAdapter, RetryPolicy, error_details, is_ambiguous, json_body

logger = logging.getLogger(__name__)


def reference_description(letter_id: str) -> str:
    """The description every letter is created with: it names our letter_id, so a lookup can match it."""
    return f"postal-comms letter {letter_id}"


class LookupFirstAdapter(HttpAdapter):
    """Base of the PostGrid and MySendingBox adapters: lookup-or-create, `get` and `cancel` by the provider's id.

    A subclass sets `letters_path` (the letters collection) and `tracking_field` (the letter's tracking number), and
    implements `_call`, `_error`, `_map`, `_result` and `find_by_reference`.
    """

    letters_path: str
    tracking_field: str
    _policy: RetryPolicy

    def _call(self, method: str, path: str, *, safe: bool, **kwargs: Any) -> httpx.Response:
        """One request to the provider; `safe`: repeating it cannot create a second letter."""
        raise NotImplementedError

    def _map(self, letter: dict[str, Any]) -> tuple[LetterStatus | None, str, str | None]:
        """(canonical status, raw status, error code) of one of the provider's letter objects."""
        raise NotImplementedError

    def _result(self, letter: dict[str, Any]) -> SubmitResult:
        """The submit result of one letter object; `UnreadableAnswer` when it lacks what we need."""
        raise NotImplementedError

    def _tracking(self, letter: dict[str, Any]) -> str | None:
        value = letter.get(self.tracking_field)
        return None if value is None or isinstance(value, bool | dict | list) else str(value)

    def _create_headers(self, submission: LetterSubmission) -> dict[str, str]:  # noqa: ARG002
        """Extra headers of the create call (PostGrid: its Idempotency-Key)."""
        return {}

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:
        raise NotImplementedError

    def _lookup_or_create(self, submission: LetterSubmission, data: dict[str, str], *, pdf_field: str) -> SubmitResult:
        """The letter the provider holds for the submission's letter_id, else a new one: POST `letters_path` as
        multipart with `data`, our references (description, metadata[letter_id], metadata[org_id]) and the PDF as
        `pdf_field`."""
        data = {
            **data,
            "description": reference_description(submission.letter_id),
            "metadata[letter_id]": submission.letter_id,
            "metadata[org_id]": submission.org_id,
        }
        files = {pdf_field: (submission.file_name, submission.pdf, "application/pdf")}
        headers = self._create_headers(submission)
        last: ProviderError | None = None
        for _ in range(self._policy.attempts):
            existing = self.find_by_reference(submission.letter_id)
            if existing:
                return existing
            try:
                response = self._call("POST", self.letters_path, safe=False, data=data, files=files, headers=headers)
            except ProviderError as exc:
                if not is_ambiguous(exc):
                    raise
                last = exc
                logger.warning("%s: create was ambiguous, looking up before repeating it", self.name)
                continue
            self._expect(response, 200, 201)
            try:
                return self._result(json_body(response))
            except (UnreadableAnswer, KeyError, TypeError, ValueError) as exc:
                # The provider accepted the letter but we cannot read its answer: it holds the letter, so we
                # must find it by reference, never create another one or call the letter failed.
                logger.error("%s: create accepted but its answer is unreadable (%s)", self.name, type(exc).__name__)
                found = self.find_by_reference(submission.letter_id)
                if found:
                    return found
                raise ProviderError(
                    Code.PROVIDER_UNAVAILABLE,
                    f"{self.name} accepted the letter but its answer could not be read; it is looked up again.",
                    fix=TRANSIENT_FIX,
                    retryable=True,
                    details=error_details(self.name, response, ambiguous=True, reason="unreadable_answer"),
                ) from exc
        assert last is not None
        raise last

    def get(self, provider_letter_id: str) -> ProviderLetter:
        """The letter's current status at the provider, as `_map` reads it."""
        letter = json_body(self._expect(self._call("GET", f"{self.letters_path}/{provider_letter_id}", safe=True), 200))
        status, raw, _ = self._map(letter)
        return ProviderLetter(
            provider_letter_id=provider_letter_id,
            status=status,
            raw_status=raw,
            tracking_number=self._tracking(letter),
        )

    def _cancellable(self, letter: dict[str, Any]) -> bool:
        """Whether the provider still allows a cancel of this letter object."""
        raise NotImplementedError

    def cancel(self, provider_letter_id: str) -> None:
        """DELETE the letter, only after reading that the provider still allows it (PostGrid: while `ready`;
        MySendingBox: before it is accepted for production). A refused DELETE is a protocol error at both."""
        path = f"{self.letters_path}/{provider_letter_id}"
        letter = json_body(self._expect(self._call("GET", path, safe=True), 200))
        if not self._cancellable(letter):
            _, raw, _ = self._map(letter)
            raise ProviderError(
                Code.REJECTED_BY_PROVIDER,
                f"{self.name} can no longer cancel this letter (status {raw}).",
                fix="Nothing to undo: the letter is already in production or sent.",
                details={"provider": self.name, "raw_status": raw},
            )
        self._expect(self._call("DELETE", path, safe=True), 200, 204)

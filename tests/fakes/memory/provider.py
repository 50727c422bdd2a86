"""A print-and-mail provider in memory (the `PostalProvider` protocol) and a `ProviderFactory` look-alike that
builds it from the org's stored connection (integration secret reference -> secret -> provider).

The provider keeps every letter it was handed (idempotent on our letter id, like the sandbox), can be told to fail
the next calls (`fail_next`), and reads webhooks as a JSON list of `WebhookEvent`s signed by the connection's
`webhook_signing_key` in the `X-Fake-Signature` header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from postal.errors import Conflict, InvalidSignature, NotFound, ProviderError
from postal.models import LetterStatus
from postal.providers.base import (
    LetterSubmission,
    PriceQuote,
    PriceRequest,
    ProviderLetter,
    SubmitResult,
    WebhookEvent,
)
from postal.providers.connections import IntegrationReader, SecretReader

SIGNATURE_HEADER = "x-fake-signature"


class MemoryProvider:
    """One provider account. `submissions` holds what was handed over, `cancelled` the ids cancelled."""

    def __init__(self, name: str = "sandbox", signing_key: str | None = None):
        self.name = name
        self.signing_key = signing_key
        self.submissions: dict[str, LetterSubmission] = {}
        self.letters: dict[str, ProviderLetter] = {}
        self.ids: dict[str, str] = {}  # our letter id -> the provider's
        self.cancelled: list[str] = []
        self.errors: list[Exception] = []
        self.status_on_submit = LetterStatus.SUBMITTED
        self.cancellable = True
        self.price = Decimal("1.25")

    def fail_next(self, *errors: Exception) -> None:
        """The next calls of `submit` (one per error) raise these."""
        self.errors.extend(errors)

    def _result(self, provider_letter_id: str) -> SubmitResult:
        status = self.letters[provider_letter_id].status or LetterStatus.SUBMITTED
        return SubmitResult(
            provider_letter_id=provider_letter_id,
            status=status,
            raw_status=status.value,
            price=self.price,
            currency="EUR",
        )

    def submit(self, submission: LetterSubmission) -> SubmitResult:
        if self.errors:
            raise self.errors.pop(0)
        if submission.letter_id not in self.ids:
            provider_letter_id = f"{self.name}-{len(self.ids) + 1}"
            self.ids[submission.letter_id] = provider_letter_id
            self.submissions[provider_letter_id] = submission
            raw = self.status_on_submit.value
            self.letters[provider_letter_id] = ProviderLetter(
                provider_letter_id=provider_letter_id, status=self.status_on_submit, raw_status=raw
            )
        return self._result(self.ids[submission.letter_id])

    def find_by_reference(self, letter_id: str) -> SubmitResult | None:
        return self._result(self.ids[letter_id]) if letter_id in self.ids else None

    def get(self, provider_letter_id: str) -> ProviderLetter:
        if provider_letter_id not in self.letters:
            raise NotFound(f"no letter '{provider_letter_id}' at {self.name}")
        return self.letters[provider_letter_id]

    def cancel(self, provider_letter_id: str) -> None:
        if not self.cancellable:
            raise ProviderError("rejected_by_provider", "printing has started", fix="nothing to do: it is mailed")
        self.cancelled.append(provider_letter_id)
        if provider_letter_id in self.letters:
            letter = self.letters[provider_letter_id]
            self.letters[provider_letter_id] = letter.model_copy(
                update={"status": LetterStatus.CANCELLED, "raw_status": "cancelled"}
            )

    def quote(self, request: PriceRequest) -> PriceQuote:
        return PriceQuote(amount=self.price, currency="EUR", total=self.price * request.volume, source="provider")

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> list[WebhookEvent]:
        signature = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER)
        if not self.signing_key or signature != self.signing_key:
            raise InvalidSignature(f"not signed by this {self.name} connection")
        return [WebhookEvent.model_validate(e) for e in json.loads(raw_body)]


def webhook_body(*events: WebhookEvent) -> bytes:
    """The raw body `MemoryProvider.parse_webhook` reads."""
    return json.dumps([e.model_dump(mode="json") for e in events]).encode()


class MemoryProviders:
    """`ProviderFactory`'s interface over the org's stored connections: one `MemoryProvider` per (provider name,
    signing key), kept, so a test can look at what it was handed (`provider(...)`)."""

    def __init__(self, integrations: IntegrationReader, secrets: SecretReader):
        self.integrations = integrations
        self.secrets = secrets
        self.accounts: dict[tuple[str, str | None], MemoryProvider] = {}

    def provider(self, name: str = "sandbox", signing_key: str | None = None) -> MemoryProvider:
        key = (name, signing_key)
        if key not in self.accounts:
            self.accounts[key] = MemoryProvider(name, signing_key)
        return self.accounts[key]

    def secret(self, org_id: str) -> dict[str, Any]:
        ref = self.integrations.secret_ref(org_id)
        if not ref:
            raise NotFound(f"organisation '{org_id}' has no provider connection")
        return self.secrets.get(ref)

    def from_secret(self, org_id: str, secret: dict[str, Any]) -> MemoryProvider:
        name = str(secret.get("provider") or "")
        if not name:
            raise Conflict(
                "the stored provider connection is unusable",
                code="integration_broken",
                fix="disconnect and connect the postal integration again",
            )
        return self.provider(name, secret.get("webhook_signing_key"))

    def for_org(self, org_id: str) -> MemoryProvider:
        return self.from_secret(org_id, self.secret(org_id))

    def for_ref(self, org_id: str, secret_ref: str | None) -> MemoryProvider:
        return self.from_secret(org_id, self.secrets.get(secret_ref)) if secret_ref else self.for_org(org_id)

    def webhook_candidates(self, org_id: str, provider: str) -> Iterator[MemoryProvider]:
        for ref in self.integrations.secret_refs(org_id):
            secret = self.secrets.get(ref)
            if secret.get("provider") == provider:
                yield self.from_secret(org_id, secret)

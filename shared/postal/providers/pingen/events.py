"""Pingen's statuses, issues and webhooks (providers.md §1.5-1.6) mapped to canonical statuses and codes; the
signed JSON:API webhook reader (the sandbox signs like Pingen and reuses it)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from postal.codes import Code, fix_for
from postal.errors import InvalidSignature
from postal.models import LetterStatus

PROVIDER = "Pingen"  # as the fixes name it


STATUS_MAP: dict[str, LetterStatus | None] = {
    "validating": LetterStatus.SUBMITTED,
    "valid": LetterStatus.SUBMITTED,
    "fixing": LetterStatus.SUBMITTED,
    "submitted": LetterStatus.ACCEPTED,
    "accepted": LetterStatus.ACCEPTED,
    "transferring": LetterStatus.ACCEPTED,
    "inspection": LetterStatus.ACCEPTED,
    "printing": LetterStatus.PRINTING,
    "processing": LetterStatus.PRINTING,
    "sent": LetterStatus.SENT,
    "delivered": LetterStatus.DELIVERED,
    "undeliverable": LetterStatus.UNDELIVERABLE,
    "invalid": LetterStatus.FAILED,
    "unprintable": LetterStatus.FAILED,
    "rejected": LetterStatus.FAILED,
    "expired": LetterStatus.FAILED,
    "action_required": LetterStatus.FAILED,
    # `cancelling` is only a request: Pingen may still reject it (cancellation_rejected) and print. Moving to the
    # final `cancelled` now could hide a letter that is mailed after all, so it stays a history entry.
    "cancelling": None,
    "cancelled": LetterStatus.CANCELLED,
    "awaiting_credits": None,
}


STATUS_ERROR = {
    "invalid": Code.REJECTED_BY_PROVIDER,
    "unprintable": Code.REJECTED_BY_PROVIDER,
    "rejected": Code.REJECTED_BY_PROVIDER,
    "expired": Code.INSUFFICIENT_CREDIT,
    "action_required": Code.FORMAT_ERROR,
    "awaiting_credits": Code.INSUFFICIENT_CREDIT,
    "undeliverable": Code.UNDELIVERABLE,
}


WEBHOOK_STATUS = {
    "webhook_sent": LetterStatus.SENT,
    "webhook_delivered": LetterStatus.DELIVERED,
    "webhook_undeliverable": LetterStatus.UNDELIVERABLE,
}


# Letter statuses that mean a person must act before Pingen prints (§1.5): a webhook on a letter in one of
# these never stays a silent history line.
PROBLEM_STATUSES = frozenset({"invalid", "unprintable", "action_required", "expired", "rejected"})


FILE_ISSUES = frozenset(
    {
        "file_too_many_pages",
        "file_not_a4_portrait",
        "file_size_over_limit",
        "file_not_readable",
        "file_not_found",
        "file_removed",
        "invalid_pdf_binary_content",
    }
)


# Every event code Pingen's web app knows (AMANDA-Technology/PingenApiNet LetterEventCodes.cs, copied from the
# web app; 42 codes): (status, error code). None = a history entry (progress we also learn otherwise, or a wait
# that can still resolve itself).
ISSUE_MAP: dict[str, tuple[LetterStatus | None, str | None]] = {
    **dict.fromkeys(FILE_ISSUES, (LetterStatus.FAILED, Code.FORMAT_ERROR)),
    "content_failed_inspection": (LetterStatus.FAILED, Code.REJECTED_BY_PROVIDER),
    "content_inspection_error": (LetterStatus.FAILED, Code.REJECTED_BY_PROVIDER),
    "rejected_from_printcenter": (LetterStatus.FAILED, Code.REJECTED_BY_PROVIDER),
    "retracted_from_printcenter": (LetterStatus.FAILED, Code.REJECTED_BY_PROVIDER),
    "meta_data_failed_requirements": (LetterStatus.FAILED, Code.MISSING_ADDRESS_FIELDS),
    "shipping_country_blocked": (LetterStatus.FAILED, Code.UNSUPPORTED_COUNTRY),
    "shipping_organization_country_blocked": (LetterStatus.FAILED, Code.UNSUPPORTED_COUNTRY),
    "unable_to_find_delivery_product": (LetterStatus.FAILED, Code.UNSUPPORTED_COUNTRY),
    "waiting_for_funds_expired": (LetterStatus.FAILED, Code.INSUFFICIENT_CREDIT),
    "waiting_for_legitimacy_expired": (LetterStatus.FAILED, Code.REJECTED_BY_PROVIDER),
    "waiting_for_funds": (None, Code.INSUFFICIENT_CREDIT),
    "waiting_for_legitimacy": (None, None),
    "created": (None, None),
    "auto_initiated_sending": (None, None),
    "initiated_sending": (None, None),
    "change_address_position": (None, None),
    "address_position_changed": (None, None),
    "address_purged": (None, None),
    "content_passed_inspection": (None, None),
    "auto_submitted": (LetterStatus.ACCEPTED, None),
    "submitted": (LetterStatus.ACCEPTED, None),
    "accepted": (LetterStatus.ACCEPTED, None),
    "queued_for_transfer": (LetterStatus.ACCEPTED, None),
    "transferred_to_pool": (LetterStatus.ACCEPTED, None),
    "transferred_to_printcenter": (LetterStatus.PRINTING, None),
    "processing": (LetterStatus.PRINTING, None),
    "transferred_to_distributor": (LetterStatus.SENT, None),
    "receival_confirmed_by_distributor": (LetterStatus.SENT, None),
    "track_and_trace": (None, None),
    "rerouted": (None, None),
    "delivered": (LetterStatus.DELIVERED, None),
    "undeliverable": (LetterStatus.UNDELIVERABLE, Code.UNDELIVERABLE),
    "cancellation_requested": (None, None),
    # Pingen refused the cancel: the letter goes on and is mailed (a history entry; the cancel already failed).
    "cancellation_rejected": (None, None),
    "cancellation_completed": (LetterStatus.CANCELLED, None),
}


# The fix a person must make, for the codes where it is more specific than the canonical one.
ISSUE_FIXES = {
    "rejected_from_printcenter": "Pingen's print centre refused the letter: read the reason in the Pingen web app, "
    "correct the PDF (margins, address zone, content) and send it again.",
    "retracted_from_printcenter": "Pingen withdrew the letter from printing: read the reason in the Pingen web "
    "app, then send it again.",
    "waiting_for_legitimacy_expired": "Pingen never verified the organisation: complete the legitimation in the "
    "Pingen web app, then send again.",
    "meta_data_failed_requirements": "The registered-mail address fields are refused: complete the customer's "
    "address (name, street and number, zip, city), then send again.",
}


def verify_hex_signature(signing_key: str, raw_body: bytes, signature: str | None) -> None:
    """Pingen's scheme: header = lowercase hex HMAC-SHA256(raw body, signing key); constant-time compare."""
    expected = hmac.new(signing_key.encode(), raw_body, hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected, signature.strip().lower()):
        raise InvalidSignature("webhook signature does not match")


@dataclass(frozen=True)
class JsonApiWebhook:
    """The parts of a Pingen-shaped JSON:API webhook our mapping needs (also used by the sandbox)."""

    data_type: str
    letter_id: str | None
    event_id: str
    code: str
    occurred_at: datetime
    reason: str | None
    attributes: dict[str, Any]
    letter_attributes: dict[str, Any]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_jsonapi_webhook(raw_body: bytes) -> JsonApiWebhook:
    """Parse leniently: letter id from `letter` or `deliverable` (format drift 2026-07), event from `included[]`
    as `letters_events` or `deliverables_events`, possibly listed twice."""
    try:
        payload = json.loads(raw_body)
        data = payload["data"]
        data_type = str(data["type"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a JSON:API webhook") from exc
    relationships = data.get("relationships") or {}
    letter_id = None
    for name in ("letter", "deliverable"):
        rel = (relationships.get(name) or {}).get("data") or {}
        if rel.get("id"):
            letter_id = str(rel["id"])
            break
    event_ref = ((relationships.get("event") or {}).get("data") or {}).get("id")
    included = [item for item in payload.get("included") or [] if isinstance(item, dict)]
    events = [item for item in included if item.get("type") in ("letters_events", "deliverables_events")]
    event = next((e for e in events if event_ref and e.get("id") == event_ref), events[0] if events else {})
    letter = next(
        (i for i in included if i.get("type") in ("letters", "deliverables") and i.get("id") == letter_id), {}
    )
    attributes = data.get("attributes") or {}
    event_attributes = event.get("attributes") or {}
    event_id = str(event.get("id") or event_ref or data.get("id") or "")
    occurred = _parse_time(event_attributes.get("emitted_at")) or _parse_time(attributes.get("created_at"))
    return JsonApiWebhook(
        data_type=data_type,
        letter_id=letter_id,
        event_id=event_id,
        code=str(event_attributes.get("code") or data_type.removeprefix("webhook_")),
        occurred_at=occurred or datetime.now(UTC),
        reason=attributes.get("reason") or event_attributes.get("name"),
        attributes=attributes,
        letter_attributes=letter.get("attributes") or {},
    )


def read_signed_webhook(signing_key: str, headers: dict[str, str], raw_body: bytes, *, sender: str) -> JsonApiWebhook:
    """Verify the `Signature` header over the raw body, then parse it; `InvalidSignature` when either fails.

    `sender` names the webhook's sender in the message ("signed body is not a <sender> webhook")."""
    lowered = {k.lower(): v for k, v in headers.items()}
    verify_hex_signature(signing_key, raw_body, lowered.get("signature"))
    try:
        return parse_jsonapi_webhook(raw_body)
    except ValueError as exc:
        raise InvalidSignature(f"signed body is not a {sender} webhook") from exc


def map_webhook(hook: JsonApiWebhook) -> tuple[LetterStatus | None, str | None, str | None]:
    """(status, error code, fix) of a Pingen webhook: the event code first; then the letter status it carries. An
    event that maps to no status on a letter in a problem status is `failed` (`provider_problem`), never silent."""
    if hook.data_type == "webhook_issues":
        status, error_code = ISSUE_MAP.get(hook.code, (None, None))
    else:
        status = WEBHOOK_STATUS.get(hook.data_type)
        error_code = Code.UNDELIVERABLE if status is LetterStatus.UNDELIVERABLE else None
    letter_status = str(hook.letter_attributes.get("status") or "")
    if status is None and letter_status in PROBLEM_STATUSES:
        status = LetterStatus.FAILED
        error_code = STATUS_ERROR.get(letter_status) if hook.code in ISSUE_MAP else Code.PROVIDER_PROBLEM
        error_code = error_code or Code.PROVIDER_PROBLEM
    fix = ISSUE_FIXES.get(hook.code) or (fix_for(error_code, PROVIDER) if error_code else None)
    return status, error_code, fix

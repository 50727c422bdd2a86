"""PostGrid adapter against the strict fake: multipart create, lookup-before-create, errors, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import warnings

import httpx
import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from postal.models import Address, LetterStatus, Postage
from postal.providers.base import InvalidSignature, PriceRequest, ProviderError, ProviderErrorCode
from postal.providers.postgrid import PostGridProvider
from tests.fakes.pingen_fake import Fault
from tests.fakes.postgrid_fake import PostGridFake
from tests.unit.providers.conftest import submission

SECRET = "postgrid-webhook-secret-0123456789"
NOW = 1_780_000_000.0
US = Address(
    name="John Smith", lines=["1 Main St", "Apt 4"], postal_code="10001", city="New York", region="NY", country="US"
)
UK = Address(name="Jane Doe", lines=["10 Downing St"], postal_code="SW1A 2AA", city="London", country="GB")


@pytest.fixture
def fake() -> PostGridFake:
    return PostGridFake()


@pytest.fixture
def provider(fake: PostGridFake) -> PostGridProvider:
    return PostGridProvider(
        api_key=fake.api_key,
        http=httpx.Client(transport=httpx.MockTransport(fake)),
        webhook_secret=SECRET,
        clock=lambda: NOW,
    )


def test_submit_sends_multipart_with_inline_contacts(provider: PostGridProvider, fake: PostGridFake) -> None:
    result = provider.submit(submission(recipient=US, sender=US, postage=Postage.REGISTERED))

    assert result.status is LetterStatus.ACCEPTED
    letter = fake.letters[result.provider_letter_id]
    assert letter["metadata"] == {"letter_id": "let_000001", "org_id": "org_1"}
    assert (letter["mailingClass"], letter["size"], letter["addressPlacement"]) == (
        "certified",
        "us_letter",
        "insert_blank_page",
    )
    assert not provider.live


def test_uk_is_a4_and_intl_registered(provider: PostGridProvider, fake: PostGridFake) -> None:
    result = provider.submit(submission(recipient=UK, sender=US, postage=Postage.REGISTERED))
    assert (
        fake.letters[result.provider_letter_id]["size"],
        fake.letters[result.provider_letter_id]["mailingClass"],
    ) == ("a4", "registered")


def test_economy_outside_us_is_unsupported_country(provider: PostGridProvider, fake: PostGridFake) -> None:
    with pytest.raises(ProviderError) as exc:
        provider.submit(submission(recipient=UK, sender=US, postage=Postage.ECONOMY))
    assert exc.value.code == ProviderErrorCode.UNSUPPORTED_COUNTRY
    assert fake.calls == []


def test_missing_sender_is_missing_address_fields(provider: PostGridProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        provider.submit(submission(recipient=US, sender=None))
    assert exc.value.code == ProviderErrorCode.MISSING_ADDRESS_FIELDS


@pytest.mark.parametrize("kind", ["crash_after_accept", "drop_after_accept"])
def test_lost_create_response_is_found_by_reference_not_recreated(
    provider: PostGridProvider, fake: PostGridFake, kind: str
) -> None:
    fake.faults.append(Fault("POST", "/letters", kind))

    first = provider.submit(submission(recipient=US, sender=US))
    again = provider.submit(submission(recipient=US, sender=US))

    assert len(fake.letters) == 1
    assert first.provider_letter_id == again.provider_letter_id
    assert fake.count("POST", "/letters") == 1


def test_429_on_create_is_retried_because_it_was_not_processed(provider: PostGridProvider, fake: PostGridFake) -> None:
    fake.faults.append(Fault("POST", "/letters", "429", retry_after="1"))
    provider.submit(submission(recipient=US, sender=US))
    assert len(fake.letters) == 1
    assert fake.count("POST", "/letters") == 2


def test_persistent_5xx_gives_retryable_provider_unavailable(provider: PostGridProvider, fake: PostGridFake) -> None:
    fake.faults.append(Fault("POST", "/letters", "500", times=10))
    with pytest.raises(ProviderError) as exc:
        provider.submit(submission(recipient=US, sender=US))
    assert exc.value.code == ProviderErrorCode.PROVIDER_UNAVAILABLE
    assert exc.value.retryable
    assert fake.count("POST", "/letters") == 3  # one create per lookup, never two in a row
    assert fake.count("GET", "/letters") == 3


def test_wrong_key_is_credentials_rejected() -> None:
    provider = PostGridProvider(api_key="test_wrong", http=httpx.Client(transport=httpx.MockTransport(PostGridFake())))
    with pytest.raises(ProviderError) as exc:
        provider.get("letter_x")
    assert exc.value.details["reason"] == "credentials_rejected"
    assert not exc.value.retryable


@pytest.mark.parametrize(
    ("kind", "message", "code"),
    [
        ("invalid_pdf_error", "bad pdf", ProviderErrorCode.FORMAT_ERROR),
        ("validation_error", "to.addressLine1 is required", ProviderErrorCode.MISSING_ADDRESS_FIELDS),
        ("invalid_mailing_class_error", "nope", ProviderErrorCode.UNSUPPORTED_COUNTRY),
        ("something_else", "nope", ProviderErrorCode.REJECTED_BY_PROVIDER),
    ],
)
def test_error_mapping(provider: PostGridProvider, kind: str, message: str, code: str) -> None:
    error = provider._error(httpx.Response(400, json={"error": {"type": kind, "message": message}}))
    assert error.code == code
    assert error.details["provider_code"] == kind
    assert error.fix


def test_get_cancel_and_status_mapping(provider: PostGridProvider, fake: PostGridFake) -> None:
    letter_id = provider.submit(submission(recipient=US, sender=US)).provider_letter_id
    fake.letters[letter_id].update(status="completed", imbStatus="returned_to_sender")
    assert provider.get(letter_id).status is LetterStatus.UNDELIVERABLE  # a return beats an estimated delivery

    fake.letters[letter_id].update(status="printing", imbStatus=None)
    with pytest.raises(ProviderError):
        provider.cancel(letter_id)
    fake.letters[letter_id]["status"] = "ready"
    provider.cancel(letter_id)
    assert provider.get(letter_id).status is LetterStatus.CANCELLED


def test_quote_uses_price_table(provider: PostGridProvider) -> None:
    quote = provider.quote(PriceRequest(country="US", pages=3, color=True, duplex=True, volume=600))
    # base 1.05 + 2 pages x 0.25 + 1 extra sheet x 0.07 = 1.62; 5 % volume discount -> 1.54
    assert (str(quote.amount), quote.currency, str(quote.total), quote.source) == (
        "1.54",
        "USD",
        "924.00",
        "price_table",
    )
    with pytest.raises(ProviderError) as exc:
        provider.quote(PriceRequest(country="FR", pages=1, postage=Postage.ECONOMY))
    assert exc.value.code == ProviderErrorCode.UNSUPPORTED_COUNTRY


# --- webhooks -------------------------------------------------------------------------------------------------
def _event(status: str, imb: str | None = None, reason: str | None = None) -> bytes:
    letter = {
        "id": "letter_1",
        "status": status,
        "imbStatus": imb,
        "metadata": {"letter_id": "let_000001"},
        "updatedAt": "2026-08-01T10:00:00Z",
    }
    if reason:
        letter["cancellation"] = {"reason": reason}
    return json.dumps({"id": "event_1", "type": "letter.updated", "data": letter}).encode()


def _header(body: bytes, t_ms: int, *, with_t: bool = True, secret: str = SECRET) -> dict[str, str]:
    signed = f"{t_ms}.".encode() + body if with_t else body
    return {"PostGrid-Signature": f"t={t_ms},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"}


@pytest.mark.parametrize(
    ("status", "imb", "reason", "expected", "error"),
    [
        ("ready", None, None, LetterStatus.ACCEPTED, None),
        ("printing", None, None, LetterStatus.PRINTING, None),
        ("processed_for_delivery", None, None, LetterStatus.SENT, None),
        ("processed_for_delivery", "out_for_delivery", None, LetterStatus.SENT, None),
        ("completed", None, None, LetterStatus.DELIVERED, None),
        ("completed", "returned_to_sender", None, LetterStatus.UNDELIVERABLE, ProviderErrorCode.UNDELIVERABLE),
        ("cancelled", None, "user_initiated", LetterStatus.CANCELLED, None),
        ("cancelled", None, "invalid_content", LetterStatus.FAILED, ProviderErrorCode.REJECTED_BY_PROVIDER),
    ],
)
def test_webhook_mapping(
    provider: PostGridProvider,
    status: str,
    imb: str | None,
    reason: str | None,
    expected: LetterStatus,
    error: str | None,
) -> None:
    body = _event(status, imb, reason)
    [event] = provider.parse_webhook(_header(body, int(NOW * 1000)), body)
    assert (event.status, event.error_code) == (expected, error)
    assert (event.event_id, event.letter_id, event.provider_letter_id) == ("event_1", "let_000001", "letter_1")


def test_webhook_accepts_both_signing_variants(provider: PostGridProvider) -> None:
    body = _event("printing")
    assert provider.parse_webhook(_header(body, int(NOW * 1000), with_t=True), body)
    assert provider.parse_webhook(_header(body, int(NOW * 1000), with_t=False), body)


def test_webhook_rejects_bad_tampered_stale_and_unsigned(provider: PostGridProvider) -> None:
    body = _event("printing")
    t = int(NOW * 1000)
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(_header(body, t, secret="another-secret-0123456789"), body)
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(_header(body, t), body.replace(b"printing", b"completed"))
    with pytest.raises(InvalidSignature, match="stale"):
        provider.parse_webhook(_header(body, t - 301_000), body)
    with pytest.raises(InvalidSignature, match="unsigned"):
        provider.parse_webhook({}, body)
    with pytest.raises(InvalidSignature, match="does not verify"):
        provider.parse_webhook({}, b"eyJhbGciOiJIUzI1NiJ9.e30.sig")


def test_webhook_signature_timestamp_in_seconds_is_accepted(provider: PostGridProvider) -> None:
    # PostGrid's API reference shows a 10-digit `t` (seconds); its guide says milliseconds.
    body = _event("printing")
    [event] = provider.parse_webhook(_header(body, int(NOW)), body)
    assert event.status is LetterStatus.PRINTING
    with pytest.raises(InvalidSignature, match="stale"):
        provider.parse_webhook(_header(body, int(NOW) - 301), body)


def _jwt(claims: dict[str, object], secret: str = SECRET, alg: str = "HS256") -> bytes:
    with warnings.catch_warnings():
        # HS512 with PostGrid's (shorter) secret is exactly the forgery under test; PyJWT warns about its length.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=alg).encode()


def test_webhook_in_the_jwt_payload_format_is_verified_with_the_secret(provider: PostGridProvider) -> None:
    event = json.loads(_event("processed_for_delivery"))
    [parsed] = provider.parse_webhook({"Content-Type": "text/plain"}, _jwt({**event, "iat": int(NOW)}))
    assert (parsed.status, parsed.letter_id, parsed.provider_letter_id) == (LetterStatus.SENT, "let_000001", "letter_1")
    wrapped = json.dumps({"payload": _jwt({**event, "exp": int(NOW) + 60}).decode()}).encode()
    assert provider.parse_webhook({}, wrapped)[0].status is LetterStatus.SENT


@pytest.mark.parametrize(
    "token",
    [
        _jwt({"data": {"id": "letter_1", "status": "completed"}, "iat": int(NOW)}, secret="x" * 32),  # other secret
        _jwt({"data": {"id": "letter_1", "status": "completed"}, "iat": int(NOW) - 3600}),  # replayed an hour later
        _jwt({"data": {"id": "letter_1", "status": "completed"}, "exp": int(NOW) - 3600}),  # expired
        _jwt({"data": {"id": "letter_1", "status": "completed"}}),  # no iat/exp: replay cannot be bounded
        _jwt({"data": {"id": "letter_1", "status": "completed"}, "iat": int(NOW)}, alg="HS512"),  # not HS256
        jwt.encode({"data": {"id": "letter_1"}, "iat": int(NOW)}, None, algorithm="none").encode(),  # unsigned
    ],
)
def test_webhook_jwt_that_does_not_verify_is_refused(provider: PostGridProvider, token: bytes) -> None:
    with pytest.raises(InvalidSignature):
        provider.parse_webhook({}, token)

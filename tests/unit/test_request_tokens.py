"""Transactions that create something carry a ClientRequestToken derived from the request's Idempotency-Key, so
a retried TransactWriteItems that already committed succeeds again instead of failing its own condition."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from postal import idempotency
from postal.errors import Conflict
from postal.letters import Letter
from postal.models import Address, Org, OrgIn
from postal.store.letters import LetterRepository
from postal.store.orgs import OrgRepository

ORG = OrgIn(name="Acme GmbH")


class RecordingDynamo:
    """Records every TransactWriteItems call; answers with `error` when set."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "x"}}, "TransactWriteItems")
        return {}


def letter() -> Letter:
    address = Address(name="E", lines=["Bahnhofstrasse 12"], postal_code="8001", city="Zürich", country="CH")
    return Letter(
        letter_id="let_1", org_id="org_1", status="queued", recipient=address, postage="priority", pdf_key="k",
        page_count=1, sha256="0" * 64, provider="sandbox", created_at="2026-12-02T00:00:00Z",
        updated_at="2026-12-02T00:00:00Z",
    )  # fmt: skip


def test_the_token_is_the_same_for_a_retry_and_differs_for_another_request() -> None:
    token = idempotency.request_token("orgs", "admin", "k1", ORG)
    assert token == idempotency.request_token("orgs", "admin", "k1", ORG)
    assert len(token) == 36  # DynamoDB's maximum
    assert token != idempotency.request_token("orgs", "admin", "k2", ORG)
    assert token != idempotency.request_token("orgs", "admin", "k1", OrgIn(name="Other"))
    assert token != idempotency.request_token("letters", "admin", "k1", ORG)


def test_org_creation_and_letter_creation_send_the_token() -> None:
    dynamo = RecordingDynamo()
    OrgRepository(dynamo, "t").create_org(
        Org(org_id="org_1", name="A", created_at="now"), "h" * 64, request_token="tok-1"
    )
    LetterRepository(dynamo, "t").create(letter(), [], request_token="tok-2")
    assert [call["ClientRequestToken"] for call in dynamo.calls] == ["tok-1", "tok-2"]


def test_a_token_mismatch_means_a_concurrent_attempt_of_the_same_request_won() -> None:
    mismatch = RecordingDynamo(error="IdempotentParameterMismatchException")
    assert LetterRepository(mismatch, "t").create(letter(), [], request_token="tok") is False
    with pytest.raises(Conflict):
        OrgRepository(mismatch, "t").create_org(
            Org(org_id="org_1", name="A", created_at="now"), "h" * 64, request_token="t"
        )

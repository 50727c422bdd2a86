"""Sending, uploading and cancelling letters (`postal.letters` create, uploads, cancel) on the in-memory ports."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from postal.errors import Conflict, NotConnected, ValidationFailed
from postal.letters import DispatchMessage
from postal.letters.cancel import cancel_letter
from postal.letters.create import create_letter
from postal.letters.requests import LetterIn
from postal.letters.uploads import letter_uploaded
from postal.models import LetterStatus
from postal.ports import LetterPorts
from tests.fakes.memory import MemoryProvider, MemoryWorld
from tests.unit.documents import pdf_corpus
from tests.unit.services.conftest import ORG, factory

ADDRESS = {
    "name": "Erika Müller",
    "company": "Muster AG",
    "lines": ["Bahnhofstrasse 12"],
    "postal_code": "8001",
    "city": "Zürich",
    "country": "CH",
}


def body(**fields: Any) -> LetterIn:
    content = {"pdf_base64": base64.b64encode(pdf_corpus.good_letter_cached()).decode()}
    return LetterIn.model_validate({"recipient": {"address": ADDRESS}, "send": True, **(fields or content)})


def send(world: MemoryWorld, request: LetterIn, key: str = "k1") -> str:
    ports = LetterPorts(world.stores, world.documents, world.idempotency, world.dispatch, world.events)
    view = create_letter(
        ports,
        ORG,
        request,
        key,
        world.now(),
    )
    return view.letter_id


@pytest.fixture
def provider(world: MemoryWorld) -> MemoryProvider:
    return world.connect(ORG)


def test_a_letter_is_queued_with_its_pdf_and_announced_once(world: MemoryWorld, provider: MemoryProvider) -> None:
    letter_id = send(world, body())
    letter = world.letters.get(ORG, letter_id)
    assert letter is not None and letter.status is LetterStatus.QUEUED
    assert world.documents.get(letter.pdf_key) == pdf_corpus.good_letter_cached()
    assert sorted(e.status for e in world.letters.history(ORG, letter_id)) == ["created", "queued", "rendered"]
    assert [(d["letter_id"], d["previous_status"]) for d in world.published()] == [(letter_id, None)]
    assert world.dispatch.messages == [DispatchMessage(org_id=ORG, letter_id=letter_id)]


def test_a_replayed_request_returns_the_same_letter_and_announces_nothing_new(
    world: MemoryWorld, provider: MemoryProvider
) -> None:
    first = send(world, body())
    assert send(world, body()) == first
    assert len(list(world.published())) == 1
    assert world.stores.letters.count_letters(ORG, "queued") == 1


def test_a_key_reused_for_another_request_is_refused(world: MemoryWorld, provider: MemoryProvider) -> None:
    send(world, body())
    with pytest.raises(ValidationFailed) as reused:
        send(world, body(upload=True))
    assert reused.value.code == "idempotency_key_reused"


def test_no_letter_is_stored_while_the_integration_is_disconnected(world: MemoryWorld) -> None:
    with pytest.raises(NotConnected):
        send(world, body())
    assert world.events.details == [] and world.dispatch.messages == []


def test_an_uploaded_pdf_queues_the_letter_once(world: MemoryWorld, provider: MemoryProvider) -> None:
    letter_id = send(world, body(upload=True))
    letter = world.letters.get(ORG, letter_id)
    assert letter is not None and (letter.status, letter.awaiting_upload) == (LetterStatus.CREATED, True)
    pdf = pdf_corpus.good_letter_cached()
    world.documents.put_pdf(letter.pdf_key, pdf)

    def arrived() -> LetterStatus | None:
        args = (world.dispatch, world.events, letter.pdf_key, len(pdf), world.now())
        return letter_uploaded(world.letters, world.documents, *args)

    assert arrived() is LetterStatus.QUEUED
    assert arrived() is None  # a second delivery of the S3 event
    assert world.dispatch.messages == [DispatchMessage(org_id=ORG, letter_id=letter_id)]
    assert [d["status"] for d in world.published()] == ["created", "queued"]


def test_an_upload_that_is_no_pdf_fails_the_letter(world: MemoryWorld, provider: MemoryProvider) -> None:
    letter_id = send(world, body(upload=True))
    letter = world.letters.get(ORG, letter_id)
    assert letter is not None
    world.documents.put_pdf(letter.pdf_key, b"not a pdf")
    assert letter_uploaded(world.letters, world.documents, world.dispatch, world.events, letter.pdf_key, 9, world.now())
    failed = world.letters.get(ORG, letter_id)
    assert failed is not None and failed.error is not None
    assert (failed.status, failed.error.code) == (LetterStatus.FAILED, "format_error")
    assert world.dispatch.messages == []


def cancel(world: MemoryWorld, letter_id: str) -> Any:
    return cancel_letter(world.letters, factory(world), world.events, ORG, letter_id, world.now(), wait_s=0)


def test_a_queued_letter_is_cancelled_here_once(world: MemoryWorld, provider: MemoryProvider) -> None:
    world.letter(ORG, "let_1")
    assert cancel(world, "let_1").cancelled_at_provider is False
    assert cancel(world, "let_1").status is LetterStatus.CANCELLED
    assert [(d["previous_status"], d["status"]) for d in world.published()] == [("queued", "cancelled")]
    assert provider.cancelled == []


def test_a_submitted_letter_is_cancelled_at_its_provider(world: MemoryWorld, provider: MemoryProvider) -> None:
    world.letter(ORG, "let_1", LetterStatus.SUBMITTED, provider_letter_id="sandbox-7")
    assert cancel(world, "let_1").cancelled_at_provider is True
    assert provider.cancelled == ["sandbox-7"]
    assert world.status_of(ORG, "let_1") is LetterStatus.CANCELLED


def test_a_letter_the_provider_has_sent_cannot_be_cancelled(world: MemoryWorld, provider: MemoryProvider) -> None:
    world.letter(ORG, "let_1", LetterStatus.SENT, provider_letter_id="sandbox-7")
    with pytest.raises(Conflict):
        cancel(world, "let_1")
    assert world.status_of(ORG, "let_1") is LetterStatus.SENT
    assert list(world.published()) == []

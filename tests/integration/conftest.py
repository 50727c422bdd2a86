"""Fixtures shared by the integration tests: the letters tests' running sandbox provider, and the check that every
letter status change of every test published its event (issue 12: one state machine, a test over every writer)."""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from postal import bootstrap
from postal.config import get_config
from postal.store.dynamo import deserialize
from tests.integration.letters_support import sandbox

__all__ = ["every_status_change_is_published", "sandbox"]

UNSUBMITTED = {"created", "rendered", "queued"}


class TeePublisher:
    """The real publisher, and a copy of every LetterStatusChanged detail."""

    def __init__(self, inner: Any, seen: list[dict[str, Any]]):
        self.inner, self.seen = inner, seen

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if detail_type == "LetterStatusChanged":
            self.seen.append(detail)
        self.inner.publish(detail_type, detail)

    def publish_many(self, detail_type: str, details: list[dict[str, Any]]) -> None:
        if detail_type == "LetterStatusChanged":
            self.seen.extend(details)
        self.inner.publish_many(detail_type, details)


def _table_items(kind: str) -> list[dict[str, Any]]:
    """Every item of one `item_type` (a scan: fine for a test's few hundred items under moto, never in the code)."""
    client = boto3.client("dynamodb")
    pages = client.get_paginator("scan").paginate(
        TableName=get_config().table_name,
        FilterExpression="item_type = :t",
        ExpressionAttributeValues={":t": {"S": kind}},
    )
    return [deserialize(i) for page in pages for i in page.get("Items", [])]


def changes_in_history() -> dict[tuple[str, str], Counter[str]]:
    """Per (org, letter): the statuses the letter's history says were applied after its creation."""
    created = {(i["org_id"], i["letter_id"]): i.get("created_at") for i in _table_items("letter")}
    applied: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for entry in _table_items("letter_event"):
        org_id = str(entry["PK"]).removeprefix("ORG#")
        key = (org_id, str(entry["letter_id"]))
        if entry.get("applied") is False:
            continue
        at_creation = entry.get("occurred_at") == created.get(key) and entry.get("source") == "postal-comms"
        if at_creation and entry.get("status") in UNSUBMITTED and not entry.get("reason"):
            continue  # written with the letter itself, announced by its one creation event
        applied[key][str(entry["status"])] += 1
    return applied


def changes_published(seen: list[dict[str, Any]]) -> dict[tuple[str, str], Counter[str]]:
    published: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for detail in seen:
        if detail.get("previous_status") is not None:
            published[(str(detail["org_id"]), str(detail["letter_id"]))][str(detail["status"])] += 1
    return published


@pytest.fixture(autouse=True)
def every_status_change_is_published(request: pytest.FixtureRequest) -> Iterator[None]:
    """For the tests that run on moto: after the test, every status change in any letter's history went out as
    exactly one event naming it, and no event names a change the history does not hold."""
    if "aws" not in request.fixturenames or request.node.get_closest_marker("repository_only"):
        yield
        return
    request.getfixturevalue("aws")
    seen: list[dict[str, Any]] = []
    real = bootstrap.events
    with pytest.MonkeyPatch.context() as patch:  # undone before `aws` resets the bootstrap
        # Cached like the real one (a test may call `bootstrap.reset()`, which clears it).
        patch.setattr(bootstrap, "events", functools.cache(lambda: TeePublisher(real(), seen)))
        yield
    history = changes_in_history()
    published = changes_published(seen)
    for key in set(history) | set(published):
        assert history.get(key, Counter()) == published.get(key, Counter()), (
            f"letter {key}: history {dict(history.get(key, {}))} but events {dict(published.get(key, {}))}"
        )

"""Dispatch through the real handler under moto, to a real sandbox provider: exactly once, fenced by the integration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import stamina

from local.redrive import redrive
from local.sandbox_server import SandboxServer
from postal import bootstrap
from postal.letters import changes as letter_changes
from postal.letters.status import Move, StatusChange
from postal.providers.base import ProviderError, ProviderErrorCode
from postal.providers.sandbox import SandboxProvider
from postal.store.letters import LetterRepository
from tests.apigw import FakeLambdaContext, handler
from tests.conftest import Api, Aws
from tests.integration.letters_support import connected_org, deliver, get_letter, queue_depth, send


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


@pytest.fixture
def submits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SandboxProvider.submit call (letter ids), whatever the outcome."""
    calls: list[str] = []
    original = SandboxProvider.submit

    def counting(self: SandboxProvider, submission: Any) -> Any:
        calls.append(submission.letter_id)
        return original(self, submission)

    monkeypatch.setattr(SandboxProvider, "submit", counting)
    return calls


def _enqueue(aws: Aws, org_id: str, letter_id: str) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=aws.resources.queue_url("DispatchQueue"),
        MessageBody=f'{{"org_id":"{org_id}","letter_id":"{letter_id}"}}',
    )


def test_dispatch_hands_the_letter_to_the_sandbox(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str]
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    deliver(aws)
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "submitted"
    assert letter["provider_letter_id"] in sandbox.letters
    assert [e["status"] for e in letter["events"]][-1] == "submitted"
    assert submits == [letter_id]
    assert queue_depth(aws, "DispatchQueue") == 0


def test_duplicate_deliveries_send_one_letter(api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str]) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    for _ in range(3):
        _enqueue(aws, org.org_id, letter_id)
    deliver(aws)
    _enqueue(aws, org.org_id, letter_id)  # a late duplicate after the letter was recorded
    deliver(aws)
    assert submits == [letter_id]
    assert len(sandbox.letters) == 1


def test_two_concurrent_dispatches_submit_once(
    api: Api, aws: Aws, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    calls: list[str] = []
    original = SandboxProvider.submit
    second: dict[str, Any] = {}

    def submit_while_another_worker_runs(self: SandboxProvider, submission: Any) -> Any:
        calls.append(submission.letter_id)
        if len(calls) == 1:
            # Worker B gets another message for the same letter while worker A is inside the provider call.
            event = {
                "Records": [
                    {
                        "messageId": "other-message",
                        "receiptHandle": "r",
                        "eventSource": "aws:sqs",
                        "body": f'{{"org_id":"{org.org_id}","letter_id":"{letter_id}"}}',
                        "attributes": {"ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                        "md5OfBody": "",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                        "awsRegion": "us-east-1",
                    }
                ]
            }
            second["result"] = handler("dispatch")(event, FakeLambdaContext())
        return original(self, submission)

    monkeypatch.setattr(SandboxProvider, "submit", submit_while_another_worker_runs)
    deliver(aws)
    assert calls == [letter_id]
    assert second["result"] == {"batchItemFailures": []}  # B acknowledged: A owns the letter
    assert len(sandbox.letters) == 1


def test_crash_after_the_provider_accepted_does_not_mail_twice(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    original = LetterRepository.apply
    crashes = {"left": 1}

    def crash_once(self: LetterRepository, org_id: str, letter_id: str, change: StatusChange) -> bool:
        if crashes["left"] and change.move is Move.SUBMIT:
            crashes["left"] -= 1
            raise RuntimeError("injected crash after the provider accepted")
        return original(self, org_id, letter_id, change)

    monkeypatch.setattr(LetterRepository, "apply", crash_once)
    deliver(aws)
    assert crashes["left"] == 0
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "submitted"
    assert len(sandbox.letters) == 1  # the retry found the letter by our reference instead of sending again
    assert submits == [letter_id]


def test_dispatch_after_a_committed_disconnect_submits_nothing(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str]
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    # The disconnect commits; its cascade has not run yet when the dispatch message is processed.
    bootstrap.stores().integrations.disconnect(org.org_id, _job(org.org_id), at="2030-01-01T00:00:00.000Z")
    deliver(aws)
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "cancelled"
    assert letter["status_reason"] == "integration_disconnected"
    assert submits == []


def test_dispatch_racing_a_disconnect_hands_nothing_to_the_provider(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    original = LetterRepository.claim
    reads: list[str] = []

    def disconnect_between_read_and_claim(self: LetterRepository, *args: Any, **kwargs: Any) -> Any:
        # Dispatch has read `connected` (consistent read) and is about to claim: the disconnect commits now.
        reads.append("claim")
        bootstrap.stores().integrations.disconnect(org.org_id, _job(org.org_id), at="2030-01-01T00:00:00.000Z")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LetterRepository, "claim", disconnect_between_read_and_claim)
    deliver(aws)
    assert reads == ["claim"]
    assert submits == []
    assert len(sandbox.letters) == 0
    assert get_letter(api, org, letter_id)["status"] == "cancelled"


def test_a_letter_claimed_before_the_disconnect_is_left_to_dispatch_by_the_cascade(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    original = LetterRepository.claim

    def disconnect_and_cascade_after_the_claim(self: LetterRepository, *args: Any, **kwargs: Any) -> Any:
        claimed = original(self, *args, **kwargs)  # fenced by `connected`: the hand-over happens before
        reply = api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
        assert reply.status == 202
        aws.drain("CascadeQueue", "disconnect_cascade")  # the whole cascade runs while dispatch is submitting
        return claimed

    monkeypatch.setattr(LetterRepository, "claim", disconnect_and_cascade_after_the_claim)
    deliver(aws)
    assert len(submits) == 1
    # The hand-over completed after the disconnect: it is withdrawn at the provider (PRODUCT §2.3).
    letter = get_letter(api, org, letter_id)
    assert (letter["status"], letter["status_reason"]) == ("cancelled", "submitted_after_disconnect")
    assert sandbox.letters[letter["provider_letter_id"]].status == "cancelled"
    job_id = bootstrap.stores().integrations.get_integration(org.org_id).last_job_id
    job = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/{job_id}", key=org.key).json
    assert job["status"] == "completed"
    assert job["counts"]["letters"] == 0
    assert job["submitted_after_disconnect"] == []


def test_a_late_submission_the_provider_will_not_cancel_is_listed_on_the_job(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    original = LetterRepository.claim

    def disconnect_after_the_claim(self: LetterRepository, *args: Any, **kwargs: Any) -> Any:
        claimed = original(self, *args, **kwargs)
        reply = api("integration_api", "POST", f"/v1/orgs/{org.org_id}/integrations/postal/disconnect", key=org.key)
        assert reply.status == 202
        return claimed

    def too_late(self: SandboxProvider, provider_letter_id: str) -> None:
        raise ProviderError(ProviderErrorCode.REJECTED_BY_PROVIDER, "already printing", fix="nothing to undo")

    monkeypatch.setattr(LetterRepository, "claim", disconnect_after_the_claim)
    monkeypatch.setattr(SandboxProvider, "cancel", too_late)
    deliver(aws)
    aws.drain("CascadeQueue", "disconnect_cascade")
    assert len(submits) == 1
    assert get_letter(api, org, letter_id)["status"] == "submitted"
    job_id = bootstrap.stores().integrations.get_integration(org.org_id).last_job_id
    job = api("integration_api", "GET", f"/v1/orgs/{org.org_id}/jobs/{job_id}", key=org.key).json
    assert job["submitted_after_disconnect"] == [letter_id]


def test_ambiguous_errors_end_in_the_dlq_never_failed_while_the_provider_may_hold_the_letter(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    real_http = bootstrap.provider_http
    # A 503 may come after the provider processed the request: the outcome is unknown.
    down = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(503, json={})))
    monkeypatch.setattr(bootstrap, "provider_http", lambda: down)
    deliver(aws)
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "queued"
    tasks = api("settings_api", "GET", f"/v1/orgs/{org.org_id}/tasks", key=org.key).json["items"]
    assert [t["task_id"] for t in tasks] == [f"task_unconfirmed_{letter_id}"]
    assert queue_depth(aws, "DispatchQueue") == 0
    assert queue_depth(aws, "DispatchDLQ") == 1
    # One submit; every later receive first asks the provider for the letter by our reference (also down).
    assert len(submits) == 1

    monkeypatch.setattr(bootstrap, "provider_http", real_http)  # the provider is back
    sqs = boto3.client("sqs")
    assert "moved 1" in redrive(sqs, aws.resources.queue_url("DispatchDLQ"), aws.resources.queue_url("DispatchQueue"))
    assert queue_depth(aws, "DispatchDLQ") == 0
    deliver(aws)
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "submitted"
    assert len(sandbox.letters) == 1
    assert [e["status"] for e in letter["events"]][-2:] == ["queued", "submitted"]


def test_a_provider_never_reached_ends_failed_in_the_dlq_and_redrive_sends_once(
    api: Api, aws: Aws, sandbox: SandboxServer, submits: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    real_http = bootstrap.provider_http

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(bootstrap, "provider_http", lambda: httpx.Client(transport=httpx.MockTransport(refused)))
    deliver(aws)
    letter = get_letter(api, org, letter_id)
    assert (letter["status"], letter["error"]["code"]) == ("failed", "provider_unavailable")
    assert letter["error"]["fix"]
    assert submits == [letter_id]
    monkeypatch.setattr(bootstrap, "provider_http", real_http)
    sqs = boto3.client("sqs")
    assert "moved 1" in redrive(sqs, aws.resources.queue_url("DispatchDLQ"), aws.resources.queue_url("DispatchQueue"))
    deliver(aws)
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "submitted"
    assert [e["status"] for e in letter["events"]][-3:] == ["failed", "queued", "submitted"]


def test_cancel_before_and_after_submit(api: Api, aws: Aws, sandbox: SandboxServer) -> None:
    org = connected_org(api)
    early = send(api, org, key="early").json["letter_id"]
    reply = api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters/{early}/cancel", key=org.key)
    assert reply.status == 200, reply.body
    assert reply.json == {
        "letter_id": early,
        "status": "cancelled",
        "cancelled_at_provider": False,
        "cancel_queued": False,
    }
    late = send(api, org, key="late").json["letter_id"]
    deliver(aws)  # `early` is acknowledged as cancelled, `late` is submitted
    assert len(sandbox.letters) == 1
    reply = api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters/{late}/cancel", key=org.key)
    assert reply.status == 200, reply.body
    assert reply.json["cancelled_at_provider"] is True
    provider_id = get_letter(api, org, late)["provider_letter_id"]
    assert sandbox.letters[provider_id].status == "cancelled"
    # Once printing has started the provider refuses: 409 with its reason.
    third = send(api, org, key="third").json["letter_id"]
    deliver(aws)
    pid = get_letter(api, org, third)["provider_letter_id"]
    with sandbox._lock:
        sandbox.letters[pid].status = "printing"
    printing = StatusChange(Move.PROVIDER_UPDATE, _status("printing"), _event("printing"), "2030-01-01T00:00:00Z")
    before = bootstrap.letters().get(org.org_id, third)
    assert before is not None
    assert letter_changes.change(bootstrap.letters(), bootstrap.events(), before, printing) is not None
    refused = api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters/{third}/cancel", key=org.key)
    assert refused.status == 409
    assert refused.json["error"]["code"] == "cancel_refused"
    assert "too late" in refused.json["error"]["message"]


def _status(value: str) -> Any:
    from postal.models import LetterStatus

    return LetterStatus(value)


def _event(status: str) -> Any:
    from postal.letters import LetterEvent

    return LetterEvent(status=status, occurred_at="2030-01-01T00:00:00Z", source="test")


def _job(org_id: str) -> Any:
    from postal.models import Job, JobStatus

    return Job(
        job_id="job_race",
        org_id=org_id,
        kind="disconnect_cascade",
        status=JobStatus.RUNNING,
        started_at="2030-01-01T00:00:00.000Z",
    )


def _hold_claim(org_id: str, letter_id: str) -> None:
    """Mark the letter as held by a dispatch that is handing it to the provider right now."""
    from postal.clock import now_iso
    from postal.store import keys
    from postal.store.dynamo import serialize

    stores = bootstrap.stores()
    stores.orgs.client.update_item(
        TableName=stores.orgs.table,
        Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.letter_sk(letter_id)}),
        UpdateExpression="SET claim_message = :m, claimed_at = :at",
        ExpressionAttributeValues=serialize({":m": "another-dispatch", ":at": now_iso()}),
    )


def _release_claim(org_id: str, letter_id: str) -> None:
    from postal.store import keys
    from postal.store.dynamo import serialize

    stores = bootstrap.stores()
    stores.orgs.client.update_item(
        TableName=stores.orgs.table,
        Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.letter_sk(letter_id)}),
        UpdateExpression="REMOVE claim_message, claimed_at",
    )


def test_a_cancel_during_submission_waits_and_cancels_at_the_provider(
    api: Api, aws: Aws, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postal.letters import cancel

    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    _hold_claim(org.org_id, letter_id)

    def submission_finishes(seconds: float) -> None:  # while the cancel waits, the hand-over completes
        _release_claim(org.org_id, letter_id)
        deliver(aws)

    monkeypatch.setattr(cancel.time, "sleep", submission_finishes)
    reply = api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters/{letter_id}/cancel", key=org.key)
    assert reply.status == 200, reply.body
    assert (reply.json["status"], reply.json["cancelled_at_provider"], reply.json["cancel_queued"]) == (
        "cancelled",
        True,
        False,
    )
    letter = get_letter(api, org, letter_id)
    assert sandbox.letters[letter["provider_letter_id"]].status == "cancelled"


def test_a_cancel_during_a_long_submission_is_queued_and_the_provider_withdraws_the_letter(
    api: Api, aws: Aws, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postal.letters import cancel

    org = connected_org(api)
    letter_id = send(api, org).json["letter_id"]
    monkeypatch.setattr(cancel, "CANCEL_WAIT_S", 0.4)
    monkeypatch.setattr(cancel.time, "sleep", lambda seconds: None)
    replies = []
    original = SandboxProvider.submit

    def slow_submit(self: SandboxProvider, submission: Any) -> Any:
        # The client cancels while the dispatch holds the letter and waits for the provider.
        replies.append(api("letters_api", "POST", f"/v1/orgs/{org.org_id}/letters/{letter_id}/cancel", key=org.key))
        return original(self, submission)

    monkeypatch.setattr(SandboxProvider, "submit", slow_submit)
    deliver(aws)
    assert [r.status for r in replies] == [202], [r.body for r in replies]
    assert (replies[0].json["status"], replies[0].json["cancel_queued"]) == ("cancelled", True)
    letter = get_letter(api, org, letter_id)
    assert letter["status"] == "cancelled"
    assert sandbox.letters[letter["provider_letter_id"]].status == "cancelled"  # withdrawn once the provider had it
    assert [e["status"] for e in letter["events"]].count("cancelled") == 1

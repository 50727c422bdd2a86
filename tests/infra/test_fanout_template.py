"""Guard rails on the nightly fan-out's resources in template.yaml (issue 15): the schedule starts one message per
org, the page function is bounded and retries a page a few times before it parks it on an alarmed DLQ."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn import load_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_template()["Resources"])


def test_the_nightly_schedule_fans_out(resources: dict[str, Any]) -> None:
    schedule = resources["CollectionFunction"]["Properties"]["Events"]["NightlyCollection"]["Properties"]
    assert schedule["Input"] == '{"job": "nightly-collection", "fan_out": true}'
    collection = resources["CollectionFunction"]["Properties"]
    assert collection["Environment"]["Variables"]["COLLECTION_QUEUE_URL"] == {"Ref": "CollectionQueue"}
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["CollectionQueue", "QueueName"]}}} in collection[
        "Policies"
    ]


def test_a_failing_page_is_retried_then_parked_on_an_alarmed_dlq(resources: dict[str, Any]) -> None:
    queue = resources["CollectionQueue"]["Properties"]
    dlq = {"Fn::GetAtt": ["CollectionDLQ", "Arn"]}
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": dlq, "maxReceiveCount": 3}
    pages = resources["NightlyPagesFunction"]["Properties"]
    # A page that is still running is never handed to a second worker.
    assert queue["VisibilityTimeout"] >= 6 * pages["Timeout"]
    alarm = resources["CollectionDLQAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["CollectionDLQ", "QueueName"]}}]
    assert alarm["AlarmActions"]


def test_the_page_function_reports_partial_failures_and_is_bounded(resources: dict[str, Any]) -> None:
    pages = resources["NightlyPagesFunction"]["Properties"]
    event = pages["Events"]["CollectionPages"]
    assert event["Type"] == "SQS"
    props = event["Properties"]
    assert props["Queue"] == {"Fn::GetAtt": ["CollectionQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 2 <= props["ScalingConfig"]["MaximumConcurrency"] <= pages["ReservedConcurrentExecutions"]
    assert pages["Handler"] == "nightly_pages.handler.lambda_handler"
    variables = pages["Environment"]["Variables"]
    assert variables["COLLECTION_QUEUE_URL"] == {"Ref": "CollectionQueue"}
    assert 1 <= int(variables["COLLECTION_PAGE_SIZE"]) <= 1000

"""Guard rails on template.yaml: reliability, security and the local stack's reading of it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.cfn import ROOT, FunctionSpec, Template, load_template
from tests.aws import lambda_context, provisioned

PUBLIC_ROUTES = {("GET", "/v1/health"), ("POST", "/v1/webhooks/{provider}/{org_id}")}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(load_template())


@pytest.fixture(scope="module")
def functions(template: Template) -> list[FunctionSpec]:
    return template.functions()


def props(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r.get("Properties", {}) for lid, r in template.of_type(resource_type).items()}


def ref_target(value: Any) -> str:
    """Logical id behind `!Ref X` or `!GetAtt X.Attr`."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


# ------------------------------------------------------------------------------------------------- reliability


def test_every_sqs_triggered_queue_has_a_dead_letter_queue(template: Template, functions: list[FunctionSpec]) -> None:
    queues = props(template, "AWS::SQS::Queue")
    sources = [(f.logical_id, s) for f in functions for s in f.sqs]
    assert sources, "expected SQS-triggered functions"
    for function, source in sources:
        redrive = queues[source.queue].get("RedrivePolicy")
        assert redrive, f"{function}: queue {source.queue} has no RedrivePolicy"
        assert ref_target(redrive["deadLetterTargetArn"]) in queues
        assert int(redrive["maxReceiveCount"]) >= 1


def test_sqs_triggered_functions_report_partial_batch_failures(functions: list[FunctionSpec]) -> None:
    for function in functions:
        for source in function.sqs:
            assert source.report_batch_item_failures, f"{function.logical_id}: one bad message retries the batch"


def test_scheduled_functions_have_failure_destinations(template: Template, functions: list[FunctionSpec]) -> None:
    scheduled = [f for f in functions if f.schedules]
    assert scheduled, "expected scheduled functions"
    for function in scheduled:
        on_failure = function.properties.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
        assert on_failure or function.properties.get("DeadLetterQueue"), f"{function.logical_id}: async failures lost"
        for event in function.properties["Events"].values():
            if event["Type"] != "ScheduleV2":
                continue
            assert event["Properties"].get("DeadLetterConfig", {}).get("Arn"), f"{function.logical_id}: no schedule DLQ"
            name = event["Properties"].get("Name")
            assert isinstance(name, dict), "schedule names must be stack-scoped with !Sub"
            assert name["Fn::Sub"].startswith("${AWS::StackName}-")


# ------------------------------------------------------------------------------------------------- data security


def test_buckets_are_encrypted_private_and_tls_only(template: Template) -> None:
    buckets = props(template, "AWS::S3::Bucket")
    policies = props(template, "AWS::S3::BucketPolicy")
    assert buckets
    for logical_id, bucket in buckets.items():
        assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical_id
        block = bucket["PublicAccessBlockConfiguration"]
        assert all(
            block[k] is True
            for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        )
        statements = [
            s
            for p in policies.values()
            if ref_target(p["Bucket"]) == logical_id
            for s in p["PolicyDocument"]["Statement"]
        ]
        assert any(
            s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        ), f"{logical_id}: no policy denies plain HTTP"


def test_tables_have_encryption_and_point_in_time_recovery(template: Template) -> None:
    tables = props(template, "AWS::DynamoDB::Table")
    assert tables
    for logical_id, table in tables.items():
        assert table["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, logical_id


def test_idempotency_table_expires_records(template: Template) -> None:
    env = template.doc["Globals"]["Function"]["Environment"]["Variables"]
    table = props(template, "AWS::DynamoDB::Table")[ref_target(env["IDEMPOTENCY_TABLE_NAME"])]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


# ------------------------------------------------------------------------------------------------- functions


def test_functions_run_python_313_on_arm64_with_tracing(functions: list[FunctionSpec]) -> None:
    for function in functions:
        assert function.properties["Runtime"] == "python3.13", function.logical_id
        assert function.properties["Architectures"] == ["arm64"], function.logical_id
        assert function.properties["Tracing"] == "Active", function.logical_id


def test_only_health_and_webhooks_are_public(functions: list[FunctionSpec]) -> None:
    routes = [event for f in functions for event in f.api]
    public = {(e.method, e.path) for e in routes if e.authorizer is None}
    assert public == PUBLIC_ROUTES
    assert {e.authorizer for e in routes if e.authorizer is not None} == {"ApiKeyAuthorizer"}


def test_every_handler_resolves_to_a_module_under_functions(functions: list[FunctionSpec]) -> None:
    for function in functions:
        module, name = function.handler.rsplit(".", 1)
        path = ROOT / "functions" / Path(*module.split(".")).with_suffix(".py")
        assert path.is_file(), f"{function.logical_id}: {path} does not exist"
        # Parsed, not imported: a handler must not need AWS or env at collection time for this check.
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assert name in defined | assigned, f"{function.logical_id}: {path} defines no {name}"


def test_no_inline_policy_grants_wildcard_actions(functions: list[FunctionSpec]) -> None:
    for function in functions:
        for policy in function.properties.get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                for action in actions:
                    assert action != "*", function.logical_id
                    assert not action.endswith(":*"), f"{function.logical_id}: {action}"


def test_api_has_access_logs_and_throttling(template: Template) -> None:
    api = template.api_properties()
    assert api["AccessLogSetting"]["DestinationArn"]
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    settings = api["MethodSettings"]
    assert any(s.get("ThrottlingBurstLimit") and s.get("ThrottlingRateLimit") for s in settings)


# ------------------------------------------------------------------------------------------------- local reading


def test_globals_environment_resolves_to_strings(template: Template) -> None:
    env = template.globals_environment()
    assert env["TABLE_NAME"] == "postal-local-Table"
    assert env["SECRETS_PREFIX"] == "postal-local/orgs/"
    assert all(isinstance(v, str) and "Fn::" not in v for v in env.values())


def test_schedules_can_be_fired_by_short_name(functions: list[FunctionSpec]) -> None:
    names = {s.short_name: s.input for f in functions for s in f.schedules}
    assert names["nightly-collection"] == {"job": "nightly-collection", "fan_out": True}
    assert "nightly-reconciliation" in names


def test_provision_creates_exactly_the_templates_tables(monkeypatch: pytest.MonkeyPatch, template: Template) -> None:
    expected = {
        f"postal-local-{lid}": {g["IndexName"] for g in p.get("GlobalSecondaryIndexes", [])}
        for lid, p in props(template, "AWS::DynamoDB::Table").items()
    }
    with provisioned(monkeypatch) as resources:
        dynamodb = boto3.client("dynamodb")
        assert set(dynamodb.list_tables()["TableNames"]) == set(expected)
        for name, indexes in expected.items():
            table = dynamodb.describe_table(TableName=name)["Table"]
            assert {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])} == indexes
        ttl = dynamodb.describe_time_to_live(TableName="postal-local-IdempotencyTable")["TimeToLiveDescription"]
        assert ttl["AttributeName"] == "expiration"
        assert not {t for t in resources.skipped.values() if t.endswith("not supported locally")}
        assert lambda_context(resources, "DispatchFunction").get_remaining_time_in_millis() > 100_000


def test_a_revoked_key_is_refused_within_thirty_seconds_on_every_route(template: Template) -> None:
    """The authorizer cache bounds how long a revoked key still passes the gateway (docs/security.md)."""
    for authorizer in template.authorizers().values():
        assert 0 < authorizer.ttl_seconds <= 30, authorizer.name

"""AWS under moto's in-process `mock_aws`, provisioned from template.yaml by the same code as `make run`.

    from tests.aws import provisioned

    @pytest.fixture
    def aws(monkeypatch):
        with provisioned(monkeypatch) as resources:
            yield resources

Inside the block every table, bucket, queue, event bus and secret of the template exists (physical ids from
`local.cfn`, e.g. `postal-local-Table`), and os.environ holds what the functions see in Lambda (Globals and
function variables resolved to those ids), with tracing and metrics off and no way to reach a real account.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.cfn import REGION, Template
from local.lambda_runtime import LambdaContext
from local.provision import Resources, _queue, _table, provision

# Variables that could send boto3 to a real account or to a running `make run` instead of mock_aws.
_LEAKY_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


@cache
def _template() -> Template:
    """template.yaml, parsed once per test process (it does not change while the tests run)."""
    return Template()


@cache
def _session() -> boto3.session.Session:
    """One boto3 session per test process: its loader keeps the service models, which a new session would read
    and decode again (about a second per test). moto's stubber intercepts its clients in every `mock_aws` block."""
    return boto3.session.Session(region_name=REGION)


@cache
def _client(service: str) -> Any:
    return _session().client(service)


@contextmanager
def provisioned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resources]:
    """template.yaml provisioned in `mock_aws`, emptied for this block, and the functions' environment set.

    moto starts once per test process and the resources are created once (issue 12: about a second per test);
    each block starts from empty tables, queues, buckets and org secrets, as a fresh provisioning would."""
    for name in _LEAKY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    mock, resources = _world()
    for name, value in resources.function_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "1")  # no EMF lines in test output
    try:
        yield resources
    finally:
        # Off between blocks, data kept: a test with its own `mock_aws` starts from nothing (and wipes this
        # world, which the next block notices and provisions again).
        mock.stop(remove_data=False)


_MOCK: list[tuple[Any, Resources]] = []


def _world() -> tuple[Any, Resources]:
    """The process's moto, provisioned on first use; every later block empties it instead of provisioning."""
    if not _MOCK:
        # One boto3 default session for the process: a new one per block would load every service model again.
        mock = mock_aws(config={"core": {"reset_boto3_session": False}})
        mock.start()
        _MOCK.append((mock, provision(_template(), session=_session())))
        return _MOCK[0]
    mock, resources = _MOCK[0]
    mock.start(reset=False)
    try:
        _empty(resources)
    except Exception:  # another test's own mock_aws reset moto: provision again from nothing
        mock.stop()
        mock.start(reset=True)
        _MOCK[0] = (mock, provision(_template(), session=_session()))
    return _MOCK[0]


def _empty(resources: Resources) -> None:
    """Back to what provisioning left: tables recreated, queues purged, buckets and org secrets deleted."""
    template = resources.template
    dynamodb, sqs, s3 = _client("dynamodb"), _client("sqs"), _client("s3")
    for logical_id, kind in resources.created.items():
        if kind == "AWS::DynamoDB::Table":
            dynamodb.delete_table(TableName=template.physical[logical_id].ref)
            _table(dynamodb, template, logical_id, template.resolve(template.resources[logical_id]["Properties"]))
        elif kind == "AWS::SQS::Queue":  # recreated, not purged: SQS allows one purge a minute
            sqs.delete_queue(QueueUrl=resources.queue_url(logical_id))
            props = template.resolve(template.resources[logical_id]["Properties"])
            _queue(sqs, template, logical_id, props, None)
        elif kind == "AWS::S3::Bucket":
            _empty_bucket(s3, template.physical[logical_id].ref)
    secrets = _client("secretsmanager")
    provisioned_ids = {template.physical[lid].ref for lid, k in resources.created.items() if "Secret" in k}
    for page in secrets.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            if secret["ARN"] not in provisioned_ids:
                secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    admin = template.physical["AdminKeySecret"].ref
    secrets.put_secret_value(SecretId=admin, SecretString=resources.admin_key)


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        doomed += [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in page.get("DeleteMarkers", [])]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})


def lambda_context(resources: Resources, function_logical_id: str) -> LambdaContext:
    """The context Lambda would pass to that function (name, memory and remaining time from the template)."""
    spec = next(f for f in resources.template.functions() if f.logical_id == function_logical_id)
    return LambdaContext(spec.name, spec.memory, spec.timeout)

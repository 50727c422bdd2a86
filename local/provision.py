"""Create the template's stateful resources in moto (server mode for `make run`, `mock_aws` in tests).

Only what changes how the code behaves locally is created: tables (keys, GSIs, TTL), buckets, queues (with
their redrive policies), event buses and secrets. Everything else (IAM, alarms, log groups, layers, functions,
the Api itself, ...) is listed in `Resources.skipped` with the reason, never silently dropped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.cfn import REGION, Template

DEFAULT_ADMIN_KEY = "local-admin-key"

# Types that are emulated by the local stack itself or have no local behaviour, with the reason shown.
_NOT_PROVISIONED = {
    "AWS::Serverless::Function": "runs in-process (local.gateway)",
    "AWS::Serverless::Api": "served by local.gateway",
    "AWS::Serverless::LayerVersion": "PYTHONPATH=shared:functions:. instead",
    "AWS::S3::BucketPolicy": "moto does not enforce bucket policies",
    "AWS::SQS::QueuePolicy": "moto does not enforce queue policies",
    "AWS::SNS::Topic": "alarms do not fire locally",
    "AWS::SNS::Subscription": "alarms do not fire locally",
    "AWS::CloudWatch::Alarm": "alarms do not fire locally",
    "AWS::Logs::LogGroup": "logs go to the terminal",
}


@dataclass
class Resources:
    """What `provision()` did: the template (with its physical ids refined), created and skipped resources."""

    template: Template
    admin_key: str
    created: dict[str, str] = field(default_factory=dict)  # logical id -> type
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> "type: why"

    def queue_url(self, logical_id: str) -> str:
        """URL of a provisioned queue (as the SQS endpoint in use returned it)."""
        return self.template.get_att(logical_id, "QueueUrl")

    def queue_arn(self, logical_id: str) -> str:
        """ARN of a provisioned queue."""
        return self.template.get_att(logical_id, "Arn")

    def function_environment(self) -> dict[str, str]:
        """The environment every function sees: Globals plus the union of the functions' own variables.

        All functions share one process locally, so two functions setting the same variable to different
        values cannot both be honoured: that fails loudly instead of one of them silently losing.
        """
        env = self.template.globals_environment()
        owner: dict[str, str] = {}
        for spec in self.template.functions():
            for name, value in spec.environment.items():
                if name in owner and env[name] != value:
                    raise ValueError(
                        f"{spec.logical_id} and {owner[name]} set {name} differently; "
                        "the local stack runs all functions in one process and cannot honour both"
                    )
                env[name] = value
                owner.setdefault(name, spec.logical_id)
        return env


def provision(
    template: Template,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    visibility_timeout: int | None = None,
) -> Resources:
    """Create every locally meaningful resource of `template`.

    `endpoint_url` points the clients at a moto server (None under `mock_aws`). `visibility_timeout`, when
    given, replaces the queues' VisibilityTimeout so that retries and redrives are observable in seconds.
    """
    session = session or boto3.session.Session(region_name=REGION)

    def client(service: str) -> Any:
        return session.client(service, region_name=REGION, endpoint_url=endpoint_url)

    admin_key = os.environ.get("POSTAL_ADMIN_KEY") or DEFAULT_ADMIN_KEY
    resources = Resources(template=template, admin_key=admin_key)
    handlers = {
        "AWS::DynamoDB::Table": lambda lid, props: _table(client("dynamodb"), template, lid, props),
        "AWS::S3::Bucket": lambda lid, props: _bucket(client("s3"), template, lid, props),
        "AWS::SQS::Queue": lambda lid, props: _queue(client("sqs"), template, lid, props, visibility_timeout),
        "AWS::Events::EventBus": lambda lid, props: _event_bus(client("events"), template, lid, props),
        "AWS::SecretsManager::Secret": lambda lid, props: _secret(
            client("secretsmanager"), template, lid, props, admin_key
        ),
    }
    for logical_id in _creation_order(template):
        resource = template.resources[logical_id]
        kind = resource["Type"]
        if not template.is_active(logical_id):
            resources.skipped[logical_id] = f"{kind}: condition {resource['Condition']} is false"
        elif kind in handlers:
            handlers[kind](logical_id, template.resolve(resource.get("Properties", {})))
            resources.created[logical_id] = kind
        else:
            resources.skipped[logical_id] = f"{kind}: {_NOT_PROVISIONED.get(kind, 'not supported locally')}"
    return resources


def _creation_order(template: Template) -> list[str]:
    """Template order, except that queues with a RedrivePolicy come after their dead-letter queues."""
    redriven = {lid for lid, res in template.resources.items() if "RedrivePolicy" in res.get("Properties", {})}
    return [lid for lid in template.resources if lid not in redriven] + [
        lid for lid in template.resources if lid in redriven
    ]


def _table(dynamodb: Any, template: Template, logical_id: str, props: dict[str, Any]) -> None:
    name = template.physical[logical_id].ref
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if props.get("BillingMode") != "PAY_PER_REQUEST":
        kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "LocalSecondaryIndexes" in props:
        kwargs["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if props.get("SSESpecification", {}).get("SSEEnabled"):
        kwargs["SSESpecification"] = {"Enabled": True}
    dynamodb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _bucket(s3: Any, template: Template, logical_id: str, props: dict[str, Any]) -> None:
    name = template.physical[logical_id].ref
    s3.create_bucket(Bucket=name)  # us-east-1: no LocationConstraint
    if "BucketEncryption" in props:
        # CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
        rules = [
            {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]  # fmt: skip
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    # Versioning changes what deletes and overwrites do, so it is worth having locally; lifecycle rules are not.
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    # S3 -> SQS notifications drive the letter uploads; moto delivers them to its own queues.
    queues = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if queues:
        configurations = [
            {
                "QueueArn": template.resolve(q["Queue"]),
                "Events": [q["Event"]],
                **({"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}} if "Filter" in q else {}),
            }
            for q in queues
        ]
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": configurations}
        )


def _queue(
    sqs: Any, template: Template, logical_id: str, props: dict[str, Any], visibility_timeout: int | None
) -> None:
    name = template.physical_name(logical_id)
    attributes: dict[str, str] = {}
    for key in ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"):  # fmt: skip
        if key in props:
            attributes[key] = str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
    if visibility_timeout is not None:
        attributes["VisibilityTimeout"] = str(visibility_timeout)
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    physical = template.physical[logical_id]
    physical.ref = url
    physical.attrs.update(Arn=arn, QueueUrl=url, QueueName=name)


def _event_bus(events: Any, template: Template, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("Name") or template.physical[logical_id].ref
    arn = events.create_event_bus(Name=name)["EventBusArn"]
    template.physical[logical_id].attrs["Arn"] = arn


def _secret(secrets: Any, template: Template, logical_id: str, props: dict[str, Any], admin_key: str) -> None:
    """Create a secret; a generated value is replaced by the local admin key (the only generated secret)."""
    name = template.physical_name(logical_id)
    value = props.get("SecretString")
    if value is None:
        if "GenerateSecretString" not in props or logical_id != "AdminKeySecret":
            raise NotImplementedError(f"{logical_id}: only the admin key may use GenerateSecretString locally")
        value = admin_key
    arn = secrets.create_secret(Name=name, Description=props.get("Description", ""), SecretString=value)["ARN"]
    template.physical[logical_id].ref = arn
    template.physical[logical_id].attrs["Id"] = arn

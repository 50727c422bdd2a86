"""Deterministic local physical ids: what `!Ref` and `!GetAtt` return for each resource type, from its name."""

from __future__ import annotations

from dataclasses import dataclass, field

STACK_NAME = "postal-local"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"


@dataclass
class Physical:
    """What `!Ref` and `!GetAtt` return for one resource locally."""

    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


# Properties that name a resource explicitly; without one, CloudFormation generates a name, we derive one.
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::EventBus": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


def arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def physical_for(resource_type: str, name: str) -> Physical:
    """The ref and attributes of a named resource of `resource_type`."""
    match resource_type:
        case "AWS::DynamoDB::Table":
            table_arn = arn("dynamodb", f"table/{name}")
            return Physical(ref=name, attrs={"Arn": table_arn, "StreamArn": f"{table_arn}/stream/local"})
        case "AWS::S3::Bucket":
            return Physical(
                ref=name,
                attrs={
                    "Arn": f"arn:{PARTITION}:s3:::{name}",
                    "DomainName": f"{name}.s3.{URL_SUFFIX}",
                    "RegionalDomainName": f"{name}.s3.{REGION}.{URL_SUFFIX}",
                },
            )
        case "AWS::SQS::Queue":
            url = f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT_ID}/{name}"
            return Physical(ref=url, attrs={"Arn": arn("sqs", name), "QueueName": name, "QueueUrl": url})
        case "AWS::Events::EventBus":
            return Physical(ref=name, attrs={"Arn": arn("events", f"event-bus/{name}"), "Name": name})
        case "AWS::SecretsManager::Secret":
            return Physical(ref=arn("secretsmanager", f"secret:{name}"))
        case "AWS::Serverless::Function":
            return Physical(ref=name, attrs={"Arn": arn("lambda", f"function:{name}")})
        case "AWS::SNS::Topic":
            topic_arn = arn("sns", name)
            return Physical(ref=topic_arn, attrs={"TopicArn": topic_arn, "TopicName": name})
        case "AWS::Logs::LogGroup":
            return Physical(ref=name, attrs={"Arn": arn("logs", f"log-group:{name}:*")})
        case _:
            return Physical(ref=name, attrs={"Arn": arn(resource_type.split("::")[1].lower(), name)})

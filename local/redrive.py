"""Move dead-lettered dispatch messages back to the DispatchQueue (`make redrive`).

    PYTHONPATH=shared:functions:. python -m local.redrive --source <DLQ url> --destination <queue url>

Without arguments the queue URLs come from the stack outputs `DispatchDLQUrl`/`DispatchQueueUrl` of
`--stack-name` (default env STACK_NAME, else `postal-comms`). Uses SQS `StartMessageMoveTask` where the endpoint
supports it (AWS), else receive/send/delete in batches (moto). Redriving is always safe: dispatch re-queues letters
that failed only because the provider was unreachable and acknowledges everything already handled.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import boto3
from botocore.exceptions import ClientError


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def move_by_copy(sqs: Any, source_url: str, destination_url: str, limit: int = 100_000) -> int:
    """Receive from `source_url`, send to `destination_url`, then delete: at-least-once, never lost."""
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=destination_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def redrive(sqs: Any, source_url: str, destination_url: str) -> str:
    """Start a move task (AWS) or copy the messages over (endpoints without the API); returns what happened."""
    try:
        task = sqs.start_message_move_task(SourceArn=_arn(sqs, source_url), DestinationArn=_arn(sqs, destination_url))
        return f"started message move task {task['TaskHandle']}"
    except (ClientError, NotImplementedError, AttributeError) as exc:
        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") not in (
            "UnsupportedOperation",
            "InvalidAction",
            "NotImplemented",
            "501",
        ):
            raise
    return f"moved {move_by_copy(sqs, source_url, destination_url)} message(s)"


def _from_stack(stack_name: str) -> tuple[str, str]:
    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    if "DispatchDLQUrl" not in values or "DispatchQueueUrl" not in values:
        raise SystemExit(
            f"stack {stack_name} lacks the DispatchDLQUrl/DispatchQueueUrl outputs: pass --source and --destination"
        )
    return values["DispatchDLQUrl"], values["DispatchQueueUrl"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", help="DLQ URL")
    parser.add_argument("--destination", help="DispatchQueue URL")
    parser.add_argument("--stack-name", default=os.environ.get("STACK_NAME", "postal-comms"))
    args = parser.parse_args(argv)
    source, destination = args.source, args.destination
    if not (source and destination):
        source, destination = _from_stack(args.stack_name)
    print(redrive(boto3.client("sqs"), source, destination))
    return 0


if __name__ == "__main__":
    sys.exit(main())

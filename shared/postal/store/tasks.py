"""Tasks for a person (letter tasks, address fixes), by status.

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.errors import NotFound
from postal.models import Task, TaskQuery, TaskStatus
from postal.store import keys
from postal.store.dynamo import (
    Item,
    decode_cursor,
    deserialize,
    encode_cursor,
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.table import Table, dump


class TaskRepository(Table):
    """Tasks for a person (letter tasks, address fixes), by status."""

    def open_task(self, task: Task) -> bool:
        """Open a task once (its id names what it is for: a step run, a failed letter, ...): True when this call
        opened it; False when it exists already, open or done (a person's completion is never undone)."""
        item: Item = {"PK": keys.org_pk(task.org_id), "SK": keys.task_sk(task.task_id), **dump(task)}
        item["GSI2PK"] = keys.tasks_gsi2(task.org_id, task.status)
        item["GSI2SK"] = f"{task.created_at}#{task.task_id}"
        return self._put_once(item)

    def complete_task(self, org_id: str, task_id: str, at: str) -> Task:
        """open -> done, once (the task moves to the `done` partition); completing a done task changes nothing."""
        task = self.get_task(org_id, task_id)
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.task_sk(task_id)}),
                UpdateExpression="SET #s = :done, completed_at = :at, GSI2PK = :gsi2",
                ConditionExpression="#s = :open",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":done": TaskStatus.DONE.value,
                        ":open": TaskStatus.OPEN.value,
                        ":at": at,
                        ":gsi2": keys.tasks_gsi2(org_id, TaskStatus.DONE),
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return self.get_task(org_id, task_id) if task.status is TaskStatus.OPEN else task
            raise translate(exc) from exc
        return Task.model_validate(deserialize(resp["Attributes"]))

    def get_task(self, org_id: str, task_id: str) -> Task:
        item = self._get(keys.org_pk(org_id), keys.task_sk(task_id))
        if not item:
            raise NotFound(f"task '{task_id}' not found")
        return Task.model_validate(item)

    def find_task(self, org_id: str, task_id: str) -> Task | None:
        item = self._get(keys.org_pk(org_id), keys.task_sk(task_id))
        return Task.model_validate(item) if item else None

    def list_tasks(
        self, org_id: str, query: TaskQuery, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]:
        """One page of the org's tasks in one status (their GSI2 partition), created within the dates asked (a key
        condition); kind and customer filter the page read, so a page may hold fewer than `limit`."""
        pk = keys.tasks_gsi2(org_id, query.status)
        # GSI2SK is `{created_at}#{task_id}`: it sorts with its date, and a bare `created_to` sorts before every key
        # of that moment, so BETWEEN (and <) leave `created_to` itself out.
        key = "GSI2PK = :pk"
        values: dict[str, Any] = {":pk": pk}
        if query.created_from and query.created_to:
            key += " AND GSI2SK BETWEEN :from AND :to"
        elif query.created_from:
            key += " AND GSI2SK >= :from"
        elif query.created_to:
            key += " AND GSI2SK < :to"
        values |= {":from": query.created_from} if query.created_from else {}
        values |= {":to": query.created_to} if query.created_to else {}
        filters, names = [], {}
        if query.kind is not None:
            filters.append("#kind = :kind")
            names["#kind"] = "kind"
            values[":kind"] = query.kind.value
        if query.customer_id is not None:
            filters.append("customer_id = :customer")
            values[":customer"] = query.customer_id
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "GSI2",
            "KeyConditionExpression": key,
            "ExpressionAttributeValues": serialize(values),
            "Limit": limit,
        }
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        start = decode_cursor(cursor, expected_pk=pk, key_names=["PK", "SK", "GSI2PK", "GSI2SK"])
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self.client.query(**kwargs)
        items = [Task.model_validate(deserialize(i)) for i in resp.get("Items", [])]
        return items, encode_cursor(resp.get("LastEvaluatedKey"))

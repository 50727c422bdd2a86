"""Jobs (disconnect cascades, nightly runs): created once, counted, finished once.

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.errors import NotFound
from postal.models import (
    Job,
    JobFailure,
    JobStatus,
)
from postal.store import keys
from postal.store.dynamo import (
    deserialize,
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.table import Table, dump


class JobRepository(Table):
    """Jobs (disconnect cascades, nightly runs): created once, counted, finished once."""

    def ensure_job(self, job: Job) -> Job:
        """Create the job unless it exists (a second firing of the same nightly run reuses it)."""
        if self._put_once({"PK": keys.org_pk(job.org_id), "SK": keys.job_sk(job.job_id), **dump(job)}):
            return job
        return self.get_job(job.org_id, job.job_id, consistent=True)

    def add_job_done(self, org_id: str, job_id: str, counter: str, n: int = 1) -> None:
        """Count `n` finished items on a job outside a transaction (the change itself is idempotent)."""
        self.client.update_item(**self._job_tick(org_id, job_id, counter, n)["Update"])

    def start_firing(self, job: Job, at: str) -> None:
        """One firing of a dated job (e.g. `nightly-{date}`) begins: the job is created by the first, and every
        firing sets it running again, so its totals and times cover them all. `active` counts firings at work."""
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(job.org_id), "SK": keys.job_sk(job.job_id)}),
            UpdateExpression="SET #s = :running, updated_at = :at, job_id = :id, org_id = :org, kind = :kind, "
            "started_at = if_not_exists(started_at, :at), #t = if_not_exists(#t, :zero), "
            "done = if_not_exists(done, :zero), counts = if_not_exists(counts, :counts) "
            "ADD firings :one, active :one REMOVE finished_at",
            ExpressionAttributeNames={"#s": "status", "#t": "total"},
            ExpressionAttributeValues=serialize(
                {
                    ":running": JobStatus.RUNNING.value,
                    ":at": at,
                    ":id": job.job_id,
                    ":org": job.org_id,
                    ":kind": job.kind,
                    ":counts": job.counts,
                    ":zero": 0,
                    ":one": 1,
                }
            ),
        )

    def add_job_total(self, org_id: str, job_id: str, n: int, at: str) -> None:
        """A firing found `n` more items for the job."""
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
            UpdateExpression="SET updated_at = :at ADD #t :n",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues=serialize({":n": n, ":at": at}),
        )

    def tick_job(self, org_id: str, job_id: str, counter: str, at: str) -> None:
        """One item of a firing is done (`counter` says how), with the time it was."""
        update = self._job_tick(org_id, job_id, counter)["Update"]
        update["UpdateExpression"] += " SET updated_at = :at"
        update["ExpressionAttributeValues"] = serialize({":n": 1, ":at": at})
        self.client.update_item(**update)

    def add_job_failure(self, org_id: str, job_id: str, failure: JobFailure, cap: int = 50) -> None:
        """Keep the reason of a failure on the job (the first `cap` of them; the counts go on beyond)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET failures = list_append(if_not_exists(failures, :none), :f), updated_at = :at",
                ConditionExpression="attribute_not_exists(failures) OR size(failures) < :cap",
                ExpressionAttributeValues=serialize(
                    {":none": [], ":f": [dump(failure)], ":cap": cap, ":at": failure.at}
                ),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def finish_firing(self, org_id: str, job_id: str, at: str, *, failed: bool = False) -> None:
        """A firing ends; the last one at work completes the job (or marks it failed when this firing failed)."""
        key = serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)})
        resp = self.client.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="SET updated_at = :at ADD active :minus",
            ExpressionAttributeValues=serialize({":at": at, ":minus": -1}),
            ReturnValues="UPDATED_NEW",
        )
        if int(deserialize(resp["Attributes"]).get("active", 0)) > 0 and not failed:
            return  # another firing is still at work: it completes the job
        status = JobStatus.FAILED if failed else JobStatus.COMPLETED
        values: dict[str, Any] = {":status": status.value, ":at": at}
        kwargs: dict[str, Any] = {}
        if not failed:  # a failure shows at once; a completion waits for the last firing at work
            kwargs = {"ConditionExpression": "active <= :zero"}
            values[":zero"] = 0
        try:
            self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #s = :status, finished_at = :at, updated_at = :at",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(values),
                **kwargs,
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def get_job(self, org_id: str, job_id: str, *, consistent: bool = False) -> Job:
        item = self._get(keys.org_pk(org_id), keys.job_sk(job_id), consistent=consistent)
        if not item:
            raise NotFound(f"job '{job_id}' not found")
        return Job.model_validate(item)

    def running_job(self, org_id: str, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        item = self._get(keys.org_pk(org_id), keys.job_sk(job_id), consistent=True)
        job = Job.model_validate(item) if item else None
        return job if job and job.status == JobStatus.RUNNING else None

    def set_job_phase(self, org_id: str, job_id: str, phase: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
            UpdateExpression="SET phase = :phase",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=serialize({":phase": phase}),
        )

    def set_job_total(self, org_id: str, job_id: str, total: int, counts: dict[str, int]) -> None:
        """Set once, by the first page; later duplicates leave it alone."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET #t = :total, counts = :counts",
                ConditionExpression="attribute_not_exists(#t)",
                ExpressionAttributeNames={"#t": "total"},
                ExpressionAttributeValues=serialize({":total": total, ":counts": counts}),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def add_submitted_after_disconnect(self, org_id: str, job_id: str, letter_id: str) -> None:
        """List a letter on the disconnect job (once; bounded at 1000 entries, the rest is in the letters)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET #l = list_append(if_not_exists(#l, :empty), :one)",
                ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(#l) OR "
                "(NOT contains(#l, :id) AND size(#l) < :cap))",
                ExpressionAttributeNames={"#l": "submitted_after_disconnect"},
                ExpressionAttributeValues=serialize(
                    {":empty": [], ":one": [letter_id], ":id": letter_id, ":cap": 1000}
                ),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise translate(exc) from exc

    def finish_job(self, org_id: str, job_id: str, at: str) -> bool:
        """running -> completed, once. True for the worker that finished it."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.job_sk(job_id)}),
                UpdateExpression="SET #s = :done, finished_at = :at, updated_at = :at, phase = :phase",
                ConditionExpression="#s = :running",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":done": JobStatus.COMPLETED.value,
                        ":running": JobStatus.RUNNING.value,
                        ":at": at,
                        ":phase": "done",
                    }
                ),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise translate(exc) from exc
        return True

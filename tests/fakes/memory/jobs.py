"""Jobs, tasks and once-only marks in memory (the conditions of `postal.store.jobs`, `postal.store.tasks` and
`postal.store.dedupe`)."""

from __future__ import annotations

from collections.abc import Callable

from postal.errors import NotFound
from postal.models import Job, JobFailure, JobStatus, Task, TaskQuery, TaskStatus
from postal.store import keys
from tests.fakes.memory.table import ConditionFailed, Item, MemoryTable, dump


def webhook_sk(provider: str, event_id: str) -> str:
    return f"WEBHOOK#{provider}#{event_id}"


def task_item(task: Task) -> Item:
    """A task as `postal.store.tasks.task_item` stores it (its status partition in GSI2)."""
    item: Item = {"PK": keys.org_pk(task.org_id), "SK": keys.task_sk(task.task_id), **dump(task)}
    item["GSI2PK"] = keys.tasks_gsi2(task.org_id, task.status)
    item["GSI2SK"] = f"{task.created_at}#{task.task_id}"
    return item


class MemoryJobs:
    def __init__(self, table: MemoryTable):
        self.table = table

    def _update(self, org_id: str, job_id: str, change: Callable[[Item], Item | None], *, create: bool = True) -> Item:
        return self.table.update(keys.org_pk(org_id), keys.job_sk(job_id), change, create=create)

    def _if(self, org_id: str, job_id: str, change: Callable[[Item], Item | None], *, create: bool = True) -> bool:
        try:
            self._update(org_id, job_id, change, create=create)
        except ConditionFailed:
            return False
        return True

    def add_job_counts(
        self, org_id: str, job_id: str, counts: dict[str, int], at: str, *, done: int = 0, total: int = 0
    ) -> tuple[int, int | None]:
        def add(item: Item) -> Item | None:
            if "PK" not in item:
                return None  # attribute_exists(PK)
            merged = dict(item.get("counts") or {})
            for name, n in counts.items():
                merged[name] = int(merged.get(name, 0)) + n
            return {**item, "updated_at": at, "done": int(item.get("done", 0)) + done,
                    "total": int(item.get("total", 0)) + total, "counts": merged}  # fmt: skip

        item = self._update(org_id, job_id, add)
        return int(item.get("done", 0)), int(item["total"]) if "total" in item else None

    def ensure_job(self, job: Job) -> Job:
        if self.table.put_once({"PK": keys.org_pk(job.org_id), "SK": keys.job_sk(job.job_id), **dump(job)}):
            return job
        return self.get_job(job.org_id, job.job_id, consistent=True)

    def add_job_done(self, org_id: str, job_id: str, counter: str, n: int = 1) -> None:
        self.table.tick(org_id, job_id, counter, n)

    def start_firing(self, job: Job, at: str) -> None:
        def start(item: Item) -> Item:
            item.pop("finished_at", None)
            item.update(status=JobStatus.RUNNING.value, updated_at=at, job_id=job.job_id, org_id=job.org_id)
            item.update(kind=job.kind, firings=int(item.get("firings", 0)) + 1, active=int(item.get("active", 0)) + 1)
            for name, default in (("started_at", at), ("total", 0), ("done", 0), ("counts", dict(job.counts))):
                item.setdefault(name, default)
            return item

        self._update(job.org_id, job.job_id, start)

    def add_job_total(self, org_id: str, job_id: str, n: int, at: str) -> None:
        self._update(org_id, job_id, lambda i: {**i, "updated_at": at, "total": int(i.get("total", 0)) + n})

    def tick_job(self, org_id: str, job_id: str, counter: str, at: str) -> None:
        self.table.tick(org_id, job_id, counter, 1, at)

    def add_job_failure(self, org_id: str, job_id: str, failure: JobFailure, cap: int = 50) -> None:
        def add(item: Item) -> Item | None:
            failures = item.get("failures", [])
            if len(failures) >= cap:
                return None
            return {**item, "failures": [*failures, dump(failure)], "updated_at": failure.at}

        self._if(org_id, job_id, add)

    def finish_firing(self, org_id: str, job_id: str, at: str, *, failed: bool = False) -> None:
        item = self._update(org_id, job_id, lambda i: {**i, "updated_at": at, "active": int(i.get("active", 0)) - 1})
        if int(item.get("active", 0)) > 0 and not failed:
            return
        status = JobStatus.FAILED if failed else JobStatus.COMPLETED

        def finish(i: Item) -> Item | None:
            if not failed and not int(i.get("active", 0)) <= 0:
                return None
            return {**i, "status": status.value, "finished_at": at, "updated_at": at}

        self._if(org_id, job_id, finish)

    def get_job(self, org_id: str, job_id: str, *, consistent: bool = False) -> Job:
        item = self.table.get(keys.org_pk(org_id), keys.job_sk(job_id))
        if not item:
            raise NotFound(f"job '{job_id}' not found")
        return Job.model_validate(item)

    def running_job(self, org_id: str, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        item = self.table.get(keys.org_pk(org_id), keys.job_sk(job_id))
        job = Job.model_validate(item) if item else None
        return job if job and job.status == JobStatus.RUNNING else None

    def set_job_phase(self, org_id: str, job_id: str, phase: str) -> None:
        self._update(org_id, job_id, lambda i: {**i, "phase": phase}, create=False)

    def set_job_total(self, org_id: str, job_id: str, total: int, counts: dict[str, int]) -> None:
        self._if(org_id, job_id, lambda i: None if "total" in i else {**i, "total": total, "counts": dict(counts)})

    def add_submitted_after_disconnect(self, org_id: str, job_id: str, letter_id: str) -> None:
        def add(item: Item) -> Item | None:
            listed = item.get("submitted_after_disconnect", [])
            if letter_id in listed or len(listed) >= 1000:
                return None
            return {**item, "submitted_after_disconnect": [*listed, letter_id]}

        self._if(org_id, job_id, add, create=False)

    def finish_job(self, org_id: str, job_id: str, at: str) -> bool:
        def finish(item: Item) -> Item | None:
            if item.get("status") != JobStatus.RUNNING.value:
                return None
            done = {"status": JobStatus.COMPLETED.value, "finished_at": at, "updated_at": at, "phase": "done"}
            return {**item, **done}

        return self._if(org_id, job_id, finish, create=False)


class MemoryTasks:
    def __init__(self, table: MemoryTable):
        self.table = table

    def open_task(self, task: Task) -> bool:
        return self.table.put_once(task_item(task))

    def complete_task(self, org_id: str, task_id: str, at: str) -> Task:
        task = self.get_task(org_id, task_id)

        def complete(item: Item) -> Item | None:
            if item.get("status") != TaskStatus.OPEN.value:
                return None
            gsi2 = keys.tasks_gsi2(org_id, TaskStatus.DONE)
            return {**item, "status": TaskStatus.DONE.value, "completed_at": at, "GSI2PK": gsi2}

        try:
            item = self.table.update(keys.org_pk(org_id), keys.task_sk(task_id), complete)
        except ConditionFailed:
            return self.get_task(org_id, task_id) if task.status is TaskStatus.OPEN else task
        return Task.model_validate(item)

    def get_task(self, org_id: str, task_id: str) -> Task:
        task = self.find_task(org_id, task_id)
        if task is None:
            raise NotFound(f"task '{task_id}' not found")
        return task

    def find_task(self, org_id: str, task_id: str) -> Task | None:
        item = self.table.get(keys.org_pk(org_id), keys.task_sk(task_id))
        return Task.model_validate(item) if item else None

    def list_tasks(
        self, org_id: str, query: TaskQuery, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]:
        """The key condition on the dates, then `limit` items read, then the kind and customer filters (a filter
        runs after the Limit, so a page may hold fewer)."""
        low, high = query.created_from, query.created_to

        def in_dates(sk: str) -> bool:
            if low and high:
                return low <= sk <= high
            return (not low or sk >= low) and (not high or sk < high)

        pk = keys.tasks_gsi2(org_id, query.status)
        items, next_cursor = self.table.page(index="GSI2", pk=pk, limit=limit, cursor=cursor, sk=in_dates)
        if query.kind is not None:
            items = [i for i in items if i.get("kind") == query.kind.value]
        if query.customer_id is not None:
            items = [i for i in items if i.get("customer_id") == query.customer_id]
        return [Task.model_validate(i) for i in items], next_cursor


class MemoryDedupe:
    def __init__(self, table: MemoryTable):
        self.table = table

    def mark_webhook_event(self, org_id: str, provider: str, event_id: str, *, expires_at: int) -> bool:
        item = {"PK": keys.org_pk(org_id), "SK": webhook_sk(provider, event_id)}
        return self.table.put_once(item, expires_at=expires_at)

    def forget_webhook_event(self, org_id: str, provider: str, event_id: str) -> None:
        self.table.delete(keys.org_pk(org_id), webhook_sk(provider, event_id))

"""Benchmark the nightly fan-out under moto: letters per second per core, requests per letter and per step kind,
peak memory, and where the time goes.

    PYTHONPATH=shared:functions:. .venv/bin/python -m bench.bench_nightly [--pairs N] [--orgs M] [--page-size P]

`--pairs` due (invoice, step) pairs spread over `--orgs` orgs (defaults: 2,000 over 50: 80 s on an idle 2-core
machine, 11 s of it loading; about 3 minutes when the cores are shared; issue 15's size is `--pairs 10000`, which
moto's whole-table queries make several times longer). Each org is connected to the sandbox provider through the real
API handlers, with four steps (email on day 0, post on day 10, a letter task on day 20, a manual intervention on
day 30) and one customer per invoice; invoice i has run the first i % 4 steps, so tonight's due steps are a
quarter of each kind. Customers and invoices are loaded with `batch_write_item` (the items the repositories
write). Then the schedule's real `collection` handler fans out, and the real `nightly_pages` handler is driven
from the real CollectionQueue until it is empty (`tests.conftest.Aws.drain`'s loop). Letters end `queued` (the
dispatch queue is not drained: dispatch is not part of the nightly run).

Counted with botocore event hooks (`before-call` on the default session, before any client exists): every
request by service and operation. A request made inside one step's run is charged to that step's kind; the rest
(the page's steps, index query, batch reads, job counts, the next page's message) is the page's overhead,
reported per pair. Time: rendering (`render_document`), moto (between `before-call` and `after-call`) and the
rest (our code, pydantic, botocore's serialising). Peak memory is the process's max RSS after the run (moto holds
the whole table in it).

moto is not DynamoDB: a Query reads and sorts the whole table, and `transact_write_items` deep-copies it unless
`local.moto_patches.item_level_rollback()` is on (it is). Request counts are what DynamoDB would see.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import boto3
from moto import mock_aws

from bench.bench_cascade import customer_items
from local.cfn import Template as CfnTemplate
from local.cfn import load_template
from local.moto_patches import forget_moto_instances, item_level_rollback
from local.provision import Resources, provision
from postal import bootstrap
from postal.catalog import with_next_step, with_step_ids
from postal.models import CollectionStep, Customer, InvoiceRecord
from postal.store.dynamo import Item, serialize
from postal.store.invoices import InvoiceRepository
from tests.apigw import FakeLambdaContext, call, handler, sqs_event

RUN_DATE = date(2026, 11, 30)
STEPS = [
    {"step_id": "s-email", "day_offset": 0, "template_id": "invoice", "action": "email"},
    {"step_id": "s-post", "day_offset": 10, "template_id": "reminder", "action": "post"},
    {"step_id": "s-task", "day_offset": 20, "template_id": "reminder", "action": "letter_task"},
    {"step_id": "s-manual", "day_offset": 30, "template_id": "final_notice", "action": "manual_intervention"},
]
KINDS = [str(s["action"]) for s in STEPS]
ADDRESS = {"name": "Jana Müller", "lines": ["Unter den Linden 1"], "postal_code": "10117", "city": "Berlin"}


# ---------------------------------------------------------------------------------------------- counting
class Meter:
    """Requests by (charged-to, service.operation), time in moto, time rendering; `charge` names the step kind."""

    def __init__(self) -> None:
        self.requests: dict[str, Counter[str]] = defaultdict(Counter)
        self.charge = "page"
        self.moto_s = 0.0
        self.render_s = 0.0
        self._started: list[float] = []
        self.steps: Counter[str] = Counter()

    def before(self, event_name: str, **_: Any) -> None:
        service, operation = event_name.split(".", 2)[1:]
        self.requests[self.charge][f"{service}.{operation}"] += 1
        self._started.append(time.perf_counter())

    def after(self, **_: Any) -> None:
        if self._started:
            self.moto_s += time.perf_counter() - self._started.pop()

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


METER = Meter()


def _hook_sessions() -> None:
    """Count on the default session's emitter: every client made from it (bootstrap's) copies these handlers."""
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register("before-call", METER.before)
    session.events.register("after-call", METER.after)


def _instrument() -> None:
    """Charge each step's requests to its kind, and time rendering."""
    from postal.collection import fanout
    from postal.collection.steps import step_due
    from postal.documents import rendering

    run_one = fanout._run_one

    def charged(stores: Any, events: Any, send: Any, message: Any, job_id: str, invoice: Any, steps: Any, now: str):
        step = step_due(invoice, steps, message.run_date)
        METER.charge = step.action.value if step else "skipped"
        METER.steps[METER.charge] += 1
        try:
            return run_one(stores, events, send, message, job_id, invoice, steps, now)
        finally:
            METER.charge = "page"

    fanout._run_one = charged  # type: ignore[assignment]
    render = rendering.render_document

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return render(*args, **kwargs)
        finally:
            METER.render_s += time.perf_counter() - started

    rendering.render_document = timed


# ---------------------------------------------------------------------------------------------- setup
@contextmanager
def _moto(page_size: int) -> Iterator[Resources]:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    with mock_aws(), item_level_rollback():
        _hook_sessions()
        resources = provision(CfnTemplate(load_template()))
        os.environ.update(resources.function_environment())
        os.environ["COLLECTION_PAGE_SIZE"] = str(page_size)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one line per page and letter otherwise
        bootstrap.reset()
        try:
            yield resources
        finally:
            bootstrap.reset()


def _put(module: str, path: str, key: str, body: dict[str, Any], method: str = "PUT") -> dict[str, Any]:
    reply = call(module, method, path, key=key, body=body)
    assert reply.status in (200, 201), (path, reply.body)
    return dict(reply.json)


def _new_org(resources: Resources, n: int) -> tuple[str, str]:
    created = _put("orgs_api", "/v1/orgs", resources.admin_key, {"name": f"Org {n} GmbH"}, method="POST")
    org_id, key = created["org"]["org_id"], created["api_key"]
    body = {"provider": "sandbox", "credentials": {}, "confirm": True}
    _put("integration_api", f"/v1/orgs/{org_id}/integrations/postal/connect", key, body, method="POST")
    for kind in ("invoice", "reminder", "final_notice"):
        body = {"kind": kind, "default_channel": "email", "language": "de"}
        _put("settings_api", f"/v1/orgs/{org_id}/templates/{kind}", key, body)
    _put("settings_api", f"/v1/orgs/{org_id}/collection-steps", key, {"steps": STEPS})
    return org_id, key


def _items(table: str, org_id: str, first: int, count: int) -> Iterator[Item]:
    """Customers and invoices as the repositories write them; invoice i is due tonight for step i % 4."""
    invoices = InvoiceRepository(None, table)
    steps = with_step_ids([CollectionStep.model_validate(s) for s in STEPS])
    for i in range(first, first + count):
        kind = i % 4
        customer = Customer(
            customer_id=f"c{i}",
            name=f"Customer {i}",
            billing_address={**ADDRESS, "country": "DE"},
            updated_at="2026-11-01T00:00:00Z",
        )
        yield from customer_items(table, org_id, [customer])
        due = RUN_DATE - timedelta(days=int(STEPS[kind]["day_offset"]) + i % 3)  # type: ignore[call-overload]
        record = InvoiceRecord(
            invoice_id=f"inv{i}",
            customer_id=f"c{i}",
            number=f"2026-{i:05d}",
            issue_date=due - timedelta(days=30),
            due_date=due,
            currency="EUR",
            open_amount="120.00",
            lines=[{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}],
            updated_at="2026-11-01T00:00:00Z",
            steps_run=[str(s["step_id"]) for s in STEPS[:kind]],
        )
        yield invoices._invoice_item(org_id, with_next_step(record, steps))


def _load(resources: Resources, orgs: int, pairs: int) -> list[str]:
    dynamodb = boto3.client("dynamodb")
    table = resources.function_environment()["TABLE_NAME"]
    org_ids: list[str] = []
    per_org = [pairs // orgs + (1 if n < pairs % orgs else 0) for n in range(orgs)]
    first = 0
    for n, count in enumerate(per_org):
        org_id, _ = _new_org(resources, n)
        org_ids.append(org_id)
        batch: list[Item] = []
        for item in _items(table, org_id, first, count):
            batch.append(item)
            if len(batch) == 25:
                _write(dynamodb, table, batch)
                batch = []
        if batch:
            _write(dynamodb, table, batch)
        first += count
    return org_ids


def _write(dynamodb: Any, table: str, items: list[Item]) -> None:
    request = {table: [{"PutRequest": {"Item": serialize(i)}} for i in items]}
    while request:
        request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


# ---------------------------------------------------------------------------------------------- run
def _drain(resources: Resources) -> int:
    """Deliver every CollectionQueue message to the real page handler until the queue is empty; pages run."""
    sqs = boto3.client("sqs")
    url = resources.queue_url("CollectionQueue")
    pages = 0
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return pages
        for msg in msgs:  # BatchSize 1 in the template: one invocation per message
            event = sqs_event([msg["Body"]])
            event["Records"][0]["messageId"] = msg["MessageId"]
            result = handler("nightly_pages")(event, FakeLambdaContext())
            assert not result.get("batchItemFailures"), result
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            pages += 1
        forget_moto_instances()


def run(pairs: int, orgs: int, page_size: int) -> dict[str, Any]:
    with _moto(page_size) as resources:
        started = time.perf_counter()
        org_ids = _load(resources, orgs, pairs)
        load_s = time.perf_counter() - started
        _instrument()
        forget_moto_instances()
        METER.reset()
        wall, cpu = time.perf_counter(), time.process_time()
        fired = handler("collection")(
            {"job": "nightly-collection", "fan_out": True, "date": RUN_DATE.isoformat()}, FakeLambdaContext()
        )
        pages = _drain(resources)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        run_job = bootstrap.stores().jobs.get_job("_nightly_runs", fired["run_key"], consistent=True)
    return {
        "pairs": pairs,
        "orgs": len(org_ids),
        "page_size": page_size,
        "pages": pages,
        "load_s": load_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "job": run_job,
        "meter": METER,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# ---------------------------------------------------------------------------------------------- report
def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    meter: Meter = result["meter"]
    counts = result["job"].counts
    letters = counts.get("letters", 0)
    per_service: Counter[str] = Counter()
    for charged in meter.requests.values():
        for op, n in charged.items():
            per_service[op.split(".")[0]] += n
    total = sum(per_service.values())
    out = [
        f"nightly fan-out: {result['pairs']:,} due pairs over {result['orgs']} orgs, "
        f"page size {result['page_size']}, {result['pages']} pages; "
        f"run job {result['job'].status.value} {result['job'].done}/{result['job'].total} orgs",
        f"counts: {dict(sorted(counts.items()))}",
        "",
        _table(
            "throughput (one process, moto in-process)",
            ["wall s", "cpu s", "letters", "letters/s/core", "pairs/s/core", "max RSS MB", "load s"],
            [
                [
                    result["wall_s"],
                    result["cpu_s"],
                    letters,
                    letters / result["cpu_s"],
                    result["pairs"] / result["cpu_s"],
                    result["max_rss_mb"],
                    result["load_s"],
                ]
            ],
        ),
        "",
        _table(
            "time split of the run (s)",
            ["total", "rendering", "moto", "our code + botocore"],
            [[result["wall_s"], meter.render_s, meter.moto_s, result["wall_s"] - meter.render_s - meter.moto_s]],
        ),
        "",
        _table(
            "requests per step, by kind (inside the step's run; the page's own requests below)",
            ["kind", "steps", "dynamodb", "s3", "sqs", "events", "total", "dynamodb ops"],
            [_kind_row(kind, meter) for kind in [*KINDS, "skipped"] if meter.steps.get(kind)],
        ),
        "",
        _table(
            "the page's own requests (steps, index, batch reads, jobs, next page), per pair",
            ["dynamodb", "sqs", "total", "dynamodb ops"],
            [_page_row(meter, result["pairs"])],
        ),
        "",
        _table(
            "every request of the run",
            ["total", *sorted(per_service), "per pair", "per letter"],
            [
                [
                    total,
                    *(per_service[s] for s in sorted(per_service)),
                    total / result["pairs"],
                    total / letters if letters else 0.0,
                ]
            ],
        ),
    ]
    return "\n".join(out)


def _kind_row(kind: str, meter: Meter) -> list[Any]:
    n = meter.steps[kind]
    charged = meter.requests.get(kind, Counter())
    by = Counter(dict.fromkeys(("dynamodb", "s3", "sqs", "eventbridge"), 0))
    for op, count in charged.items():
        by[op.split(".")[0]] += count
    ops = ", ".join(
        f"{op.split('.')[1]} {count / n:.2f}" for op, count in charged.most_common() if op.startswith("dynamodb")
    )
    return [kind, n, by["dynamodb"] / n, by["s3"] / n, by["sqs"] / n, by["eventbridge"] / n, sum(by.values()) / n, ops]


def _page_row(meter: Meter, pairs: int) -> list[Any]:
    charged = meter.requests.get("page", Counter())
    dynamodb = sum(c for op, c in charged.items() if op.startswith("dynamodb"))
    sqs = sum(c for op, c in charged.items() if op.startswith("sqs"))
    ops = ", ".join(f"{op.split('.')[1]} {c}" for op, c in charged.most_common() if op.startswith("dynamodb"))
    return [dynamodb / pairs, sqs / pairs, sum(charged.values()) / pairs, ops]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000, help="due (invoice, step) pairs (issue 15: 10000)")
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args(argv)
    print(report(run(args.pairs, args.orgs, args.page_size)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

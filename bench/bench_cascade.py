"""Benchmark the disconnect cascade for a large org under moto: throughput, pages and memory.

    PYTHONPATH=shared:functions:. .venv/bin/python -m bench.bench_cascade [--customers N] [--page-size P]

Each size (N/10, then N) runs in its own child process, so the RSS figures of one size are not inflated by the
other. A child provisions moto from template.yaml (as tests/conftest.py does), creates an org, connects it, loads
the customers with `batch_write_item` (items built by `put_customer` itself), adds templates and steps with
post, disconnects, and drives the real `disconnect_cascade` handler from the real CascadeQueue until the queue is
empty, then verifies the outcome. Only the cascade is timed and traced.

Three things in moto are not like DynamoDB and are dealt with here, never in the service code:
- `transact_write_items` deep-copies the whole table before every transaction (to roll back), which makes each
  cascade transaction O(table size). `local.moto_patches.item_level_rollback()` snapshots only the items a
  transaction names and restores those on failure (same outcome).
- moto keeps every model object it ever created in a class-level list for its dashboard (memory that grows with
  the number of operations); `local.moto_patches.forget_moto_instances()` empties it after the load and each page.
- Every Query reads and sorts the whole table (and sizes every item of the partition): a GSI page and the
  templates query on the org partition cost O(table) under moto, O(page) on DynamoDB. The "scan s" column is
  the time spent in those queries; a larger `--page-size` runs fewer of them.

Memory: tracemalloc is started at the beginning of a sample of pages (page 1, which also counts the job total,
then `--trace-pages` spread over the run, the last included); "peak MB" is the Python memory a page allocated
at its peak. "query MB" is the same for one page's two moto queries alone at that table size (moto's O(table)
temporaries). RSS is read before and after the cascade (and its peak during it, where /proc/self/clear_refs
allows). The cascade's memory is bounded when a page's peak minus the query peak stays flat from N/10 to N.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import os
import pstats
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from local.cfn import Template as CfnTemplate
from local.cfn import load_template
from local.moto_patches import forget_moto_instances, item_level_rollback
from local.provision import Resources, provision
from postal import bootstrap, integration
from postal.clock import now_iso
from postal.models import (
    Channel,
    CollectionStep,
    Customer,
    IntegrationStatus,
    JobStatus,
    OrgIn,
    PostalIntegration,
    ProviderName,
    StepAction,
    Template,
    TemplateKind,
)
from postal.orgs import create_org
from postal.ports import Stores
from postal.store.customers import CustomerRepository
from postal.store.dynamo import Item, serialize
from postal.store.table import Table
from postal.store.templates import TemplateRepository
from tests.apigw import FakeLambdaContext, sqs_event

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
BATCH = 25  # batch_write_item's limit
ADDRESS = {"name": "Jana Müller", "lines": ["Unter den Linden 1"], "postal_code": "10117", "city": "Berlin"}
TEMPLATES_WITH_POST = 2
STEPS_WITH_POST = 2


# ---------------------------------------------------------------------------------------------- moto
@contextmanager
def moto_stack(page_size: int) -> Iterator[Resources]:
    """In-process moto with every resource of template.yaml and the functions' environment (as tests do)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
    )
    with mock_aws(), item_level_rollback():
        resources = provision(CfnTemplate(load_template()))
        os.environ.update(resources.function_environment())
        os.environ["CASCADE_PAGE_SIZE"] = str(page_size)
        os.environ["CASCADE_SETTLE_SECONDS"] = "0"  # moto's GSIs are consistent
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one "cascade page" line per page otherwise
        bootstrap.reset()
        try:
            yield resources
        finally:
            bootstrap.reset()


# ---------------------------------------------------------------------------------------------- data
class _ItemCollector(CustomerRepository):
    """Customer puts kept instead of sent: exactly the items `put_customer` writes."""

    def __init__(self, table_name: str):
        super().__init__(None, table_name)
        self.items: list[Item] = []

    def _put(self, item: Item, condition: str | None = None, names: dict[str, str] | None = None) -> None:
        del condition, names  # a plain put: put_customer(requires_connected=False) passes neither
        self.items.append(item)


def customer_items(table_name: str, org_id: str, customers: Iterable[Customer]) -> Iterator[Item]:
    """The DynamoDB items `CustomerRepository.put_customer` would write for `customers` (sparse GSI1 keys included)."""
    collector = _ItemCollector(table_name)
    for customer in customers:
        collector.put_customer(org_id, customer, requires_connected=False)
        yield from collector.items
        collector.items.clear()


def make_customers(prefix: str, n: int, preference: Channel | None, now: str) -> Iterator[Customer]:
    for i in range(n):
        yield Customer.model_validate(
            {
                "customer_id": f"{prefix}{i:07d}",
                "name": f"Customer {i}",
                "billing_address": {**ADDRESS, "country": "DE"},
                "email": f"billing{i}@example.com",
                "preference": preference,
                "updated_at": now,
            }
        )


def bulk_put(client: Any, table_name: str, items: Iterable[Item]) -> int:
    """batch_write_item in 25s (unprocessed items retried); bounded memory whatever the number of items."""
    written = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        request: dict[str, Any] = {table_name: batch}
        for _ in range(10):
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(0.05)
        raise RuntimeError("batch_write_item kept returning unprocessed items")

    for item in items:
        batch.append({"PutRequest": {"Item": serialize(item)}})
        written += 1
        if len(batch) == BATCH:
            flush()
            batch = []
    if batch:
        flush()
    return written


def seed_org(stores: Stores, *, post: int, other: int, now: str) -> str:
    """A connected org with `post` post customers, `other` email customers, and templates and steps with post."""
    org_id = create_org(stores, OrgIn(name="Large GmbH"), now).org.org_id
    stores.integrations.connect(
        PostalIntegration(
            org_id=org_id,
            status=IntegrationStatus.CONNECTED,
            provider=ProviderName.SANDBOX,
            connected_at=now,
            secret_ref="x",
            generation=1,
        ),
        expected_generation=0,
    )
    for kind, channel in [
        (TemplateKind.INVOICE, Channel.EMAIL),
        (TemplateKind.REMINDER, Channel.POST),
        (TemplateKind.FINAL_NOTICE, Channel.POST),
    ]:
        template = Template(template_id=kind.value, kind=kind, default_channel=channel, updated_at=now)
        stores.templates.put_template(org_id, template, requires_connected=True)
    steps = [
        CollectionStep(day_offset=0, template_id="invoice", action=StepAction.EMAIL),
        CollectionStep(day_offset=7, template_id="reminder", action=StepAction.POST),
        CollectionStep(day_offset=14, template_id="reminder", action=StepAction.LETTER_TASK),
        CollectionStep(day_offset=21, template_id="final_notice", action=StepAction.POST),
    ]
    stores.collection.put_steps(org_id, steps, now, requires_connected=True)
    customers = chain(make_customers("c", post, Channel.POST, now), make_customers("e", other, Channel.EMAIL, now))
    bulk_put(stores.orgs.client, stores.orgs.table, customer_items(stores.orgs.table, org_id, customers))
    return org_id


# ---------------------------------------------------------------------------------------------- driving
def drive_cascade(
    resources: Resources,
    *,
    around_page: Callable[[int], AbstractContextManager[object]] | None = None,
    on_page: Callable[[int], None] | None = None,
    max_pages: int = 1_000_000,
) -> int:
    """Deliver CascadeQueue messages to the real handler until the queue is empty (as tests' Aws.drain does);
    returns the number of pages (messages) run. A failed message becomes visible again at once.

    `around_page(i)` wraps the handler call of page i (1-based); `on_page(pages)` runs after it."""
    from disconnect_cascade.handler import lambda_handler

    sqs = boto3.client("sqs")
    url = resources.queue_url("CascadeQueue")
    pages = 0
    while pages < max_pages:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return pages
        event = sqs_event([m["Body"] for m in msgs])
        for record, msg in zip(event["Records"], msgs, strict=True):
            record["receiptHandle"] = msg["ReceiptHandle"]
            record["messageId"] = msg["MessageId"]
        try:
            with around_page(pages + 1) if around_page else nullcontext():
                result = lambda_handler(event, FakeLambdaContext())
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            failed = {m["MessageId"] for m in msgs}
        for msg in msgs:
            if msg["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        pages += len(msgs)
        if on_page:
            on_page(pages)
    raise RuntimeError(f"the cascade did not finish in {max_pages} pages")


@dataclass
class Timers:
    """Seconds spent in chosen Records methods (wrapped for the duration of a run)."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def wrap(self, cls: type, names: Iterable[str]) -> Iterator[None]:
        originals = {name: getattr(cls, name) for name in names}

        def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

            return wrapper

        for name, fn in originals.items():
            setattr(cls, name, timed(name, fn))
        try:
            yield
        finally:
            for name, fn in originals.items():
                setattr(cls, name, fn)


@contextmanager
def traced_peak(sink: list[float]) -> Iterator[None]:
    """Append the peak of the Python memory allocated inside the block (tracemalloc started at its entry)."""
    tracemalloc.start()
    try:
        yield
    finally:
        sink.append(tracemalloc.get_traced_memory()[1] / MB)
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------- one size
@dataclass
class Row:
    customers: int
    other: int
    page_size: int
    load_s: float
    cascade_s: float
    pages: int
    scan_s: float
    tx_s: float
    count_s: float
    traced_pages: int
    page_peak_mb: float | None
    first_page_peak_mb: float | None
    query_peak_mb: float | None
    maxrss_before_mb: float
    maxrss_after_mb: float
    rss_before_mb: float
    rss_after_mb: float
    rss_peak_mb: float | None

    @property
    def rate(self) -> float:
        return self.customers / self.cascade_s if self.cascade_s else 0.0


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _proc_status_mb(field_name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_rss_high_water_mark() -> bool:
    """Linux: make VmHWM restart from the current RSS, so that it is the peak of what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sampled_pages(expected_pages: int, samples: int) -> set[int]:
    """Page 1 (it also counts the job total), then about `samples` pages spread over the run, the last included."""
    step = max(1, math.ceil(expected_pages / samples))
    return {1, *range(step, expected_pages + 1, step), expected_pages - 1, expected_pages}


def run_size(customers: int, page_size: int, *, other: int, trace_samples: int, profile: bool) -> Row:  # noqa: PLR0915 (one measured run, read top to bottom)
    with moto_stack(page_size) as resources:
        stores = bootstrap.stores()
        now = now_iso()
        start = time.perf_counter()
        org_id = seed_org(stores, post=customers, other=other, now=now)
        load_s = time.perf_counter() - start
        log(f"[{customers}] loaded {customers} post + {other} email customers in {load_s:.1f} s")
        forget_moto_instances()

        query_peaks: list[float] = []
        if trace_samples:  # the two O(table) moto queries every page makes, alone, for comparison with a page's peak
            with traced_peak(query_peaks):
                stores.customers.postal_customers(org_id, limit=page_size)
                stores.templates.list_templates(org_id)

        # + the page that finds nothing left, and the settle page that looks again and finishes
        expected_pages = math.ceil(customers / page_size) + 2
        to_trace = sampled_pages(expected_pages, trace_samples) if trace_samples else set()
        page_peaks: dict[int, float] = {}
        marks = iter(range(1, 11))
        next_mark: int | None = next(marks)
        timers = Timers()
        job_id = ""
        cascade_start = 0.0

        @contextmanager
        def around_page(page: int) -> Iterator[None]:
            if page not in to_trace:
                yield
                return
            sink: list[float] = []
            with traced_peak(sink):
                yield
            page_peaks[page] = sink[0]

        def on_page(pages: int) -> None:  # progress, from the job's own counter (one GetItem per page)
            nonlocal next_mark
            forget_moto_instances()
            done = stores.jobs.get_job(org_id, job_id, consistent=True).done
            crossed = None
            while next_mark is not None and done >= customers * next_mark / 10:
                crossed, next_mark = next_mark, next(marks, None)
            if crossed:
                elapsed = time.perf_counter() - cascade_start
                log(
                    f"[{customers}] {crossed * 10:3d}%  {done:>8} changes  page {pages:>5}/{expected_pages}  "
                    f"{elapsed:7.1f} s  {done / elapsed:6.0f}/s"
                )

        gc.collect()
        maxrss_before, rss_before = _maxrss_mb(), _proc_status_mb("VmRSS") or 0.0
        hwm_reset = _reset_rss_high_water_mark()
        profiler = cProfile.Profile() if profile else None
        with (
            timers.wrap(CustomerRepository, ["postal_customers", "clear_customers_post"]),
            timers.wrap(TemplateRepository, ["list_templates"]),
            timers.wrap(Table, ["count"]),
        ):
            if profiler:
                profiler.enable()
            cascade_start = time.perf_counter()
            job_id = integration.disconnect(stores, bootstrap.cascade_queue(), org_id, now_iso()).job_id
            pages = drive_cascade(
                resources, around_page=around_page, on_page=on_page, max_pages=10 * expected_pages + 100
            )
            cascade_s = time.perf_counter() - cascade_start
            if profiler:
                profiler.disable()
        rss_peak = _proc_status_mb("VmHWM") if hwm_reset else None
        gc.collect()
        maxrss_after, rss_after = _maxrss_mb(), _proc_status_mb("VmRSS") or 0.0
        if profiler:
            log(f"[{customers}] cProfile of the cascade, top 25 by own time:")
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        if page_peaks:
            log(f"[{customers}] traced peak MB per page: " + ", ".join(f"{p}: {m:.1f}" for p, m in page_peaks.items()))

        verify(stores, org_id, job_id, customers, other)
        log(f"[{customers}] verified: job completed, done == total, no post customer left, email customers intact")
        later = [m for p, m in page_peaks.items() if p != 1]
        return Row(
            customers=customers,
            other=other,
            page_size=page_size,
            load_s=load_s,
            cascade_s=cascade_s,
            pages=pages,
            scan_s=timers.seconds.get("postal_customers", 0.0) + timers.seconds.get("list_templates", 0.0),
            tx_s=timers.seconds.get("clear_customers_post", 0.0),
            count_s=timers.seconds.get("count", 0.0),
            traced_pages=len(page_peaks),
            page_peak_mb=max(later) if later else None,
            first_page_peak_mb=page_peaks.get(1),
            query_peak_mb=query_peaks[0] if query_peaks else None,
            maxrss_before_mb=maxrss_before,
            maxrss_after_mb=maxrss_after,
            rss_before_mb=rss_before,
            rss_after_mb=rss_after,
            rss_peak_mb=rss_peak,
        )


def verify(stores: Stores, org_id: str, job_id: str, customers: int, other: int) -> None:
    job = stores.jobs.get_job(org_id, job_id, consistent=True)
    expected = customers + TEMPLATES_WITH_POST + STEPS_WITH_POST
    problems = []
    if job.status != JobStatus.COMPLETED:
        problems.append(f"job status {job.status}")
    if not (job.done == job.total == expected):
        problems.append(f"done {job.done}, total {job.total}, expected {expected}")
    if job.counts.get("customers") != customers:
        problems.append(f"counts {job.counts}")
    if (left := stores.customers.count_post_customers(org_id)) != 0:
        problems.append(f"{left} post customers left")
    for i in sorted({0, customers // 2, customers - 1}):
        if customers and stores.customers.get_customer(org_id, f"c{i:07d}").preference is not None:
            problems.append(f"c{i:07d} still has a preference")
    for i in sorted({0, other // 2, other - 1}) if other else []:
        if stores.customers.get_customer(org_id, f"e{i:07d}").preference != Channel.EMAIL:
            problems.append(f"e{i:07d} lost its email preference")
    if problems:
        raise RuntimeError("cascade outcome is wrong: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------- main
def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'customers':>9} {'page':>5} {'load s':>7} {'cascade s':>9} {'cust/s':>6} {'pages':>5} {'scan s':>6} "
        f"{'tx s':>6} {'count s':>7} {'peak MB p1':>10} {'peak MB pN':>10} {'query MB':>8} "
        f"{'maxRSS MB before/after':>22} {'RSS MB before/after/peak':>24}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        rss = f"{r.rss_before_mb:.0f} / {r.rss_after_mb:.0f} / {_fmt(r.rss_peak_mb, '.0f')}"
        print(
            f"{r.customers:>9} {r.page_size:>5} {r.load_s:>7.1f} {r.cascade_s:>9.1f} {r.rate:>6.0f} {r.pages:>5} "
            f"{r.scan_s:>6.1f} {r.tx_s:>6.1f} {r.count_s:>7.1f} {_fmt(r.first_page_peak_mb, '.1f'):>10} "
            f"{_fmt(r.page_peak_mb, '.1f'):>10} {_fmt(r.query_peak_mb, '.1f'):>8} "
            f"{f'{r.maxrss_before_mb:.0f} / {r.maxrss_after_mb:.0f}':>22} {rss:>24}"
        )
    print(
        "scan s: moto's O(table) GSI1 page + templates queries; tx s: the customers' transactions (99 each);\n"
        "count s: the job total (COUNT, first page only); peak MB p1 / pN: tracemalloc peak of page 1 (impact count\n"
        "included) / the largest of the other traced pages; query MB: the peak of one page's two moto queries alone."
    )


RESULT_MARK = "BENCH_RESULT "


def run_child(size: int, args: argparse.Namespace) -> Row:
    cmd = [sys.executable, "-m", "bench.bench_cascade", "--single", str(size), "--page-size", str(args.page_size)]
    cmd += ["--other", str(args.other if args.other is not None else max(1, size // 100))]
    cmd += ["--trace-pages", str(args.trace_pages)]
    cmd += ["--profile"] if args.profile else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["shared", "functions", ".", os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=args.timeout, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"size {size} failed (exit {proc.returncode})")
    return Row(**json.loads(lines[-1].removeprefix(RESULT_MARK)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="post customers of the large run")
    parser.add_argument("--page-size", type=int, default=2000, help="CASCADE_PAGE_SIZE (template default: 2000)")
    parser.add_argument("--other", type=int, default=None, help="email customers besides (default: 1%% of N)")
    parser.add_argument(
        "--trace-pages",
        type=int,
        default=3,
        help="pages traced with tracemalloc besides the first and the last (0: none; a traced page runs ~3x slower)",
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each cascade")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per size before giving up")
    parser.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)  # a child: one size
    args = parser.parse_args(argv)

    if args.single is not None:
        other = args.other if args.other is not None else max(1, args.single // 100)
        row = run_size(args.single, args.page_size, other=other, trace_samples=args.trace_pages, profile=args.profile)
        print(RESULT_MARK + json.dumps(asdict(row)), flush=True)
        return 0

    sizes = sorted({max(1, args.customers // 10), args.customers})
    rows = []
    for size in sizes:
        log(f"== {size} post customers, page size {args.page_size}, {args.trace_pages} traced pages")
        rows.append(run_child(size, args))
    print(flush=True)
    print_table(rows)
    if len(rows) == 2:
        small, large = rows
        times = large.cascade_s / small.cascade_s
        print(
            f"\n{large.customers / small.customers:.0f}x the customers: cascade {times:.1f}x the time, "
            f"{large.pages / small.pages:.1f}x the pages, scan time {large.scan_s / small.scan_s:.1f}x, "
            f"transaction time {large.tx_s / small.tx_s:.1f}x"
        )
        if large.page_peak_mb is not None and small.page_peak_mb is not None:
            own_small = small.page_peak_mb - (small.query_peak_mb or 0.0)
            own_large = large.page_peak_mb - (large.query_peak_mb or 0.0)
            grew_small, grew_large = (r.rss_after_mb - r.rss_before_mb for r in rows)
            print(
                f"a page's peak beyond moto's query temporaries: {own_small:.1f} MB at {small.customers}, "
                f"{own_large:.1f} MB at {large.customers}; RSS after - before the cascade: "
                f"{grew_small:+.0f} MB / {grew_large:+.0f} MB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

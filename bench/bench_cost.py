"""AWS cost per 1,000 letters, from requests counted under moto and Lambda time measured, next to the postage.

    PYTHONPATH=shared:functions:. .venv/bin/python -m bench.bench_cost [--orgs 3] [--invoices 20] [--letters 30]

Two paths, each through the real handlers against moto provisioned from template.yaml and the local sandbox
provider over HTTP:
- nightly: `--orgs` orgs with `--invoices` invoices each whose post step is due; the collection handler runs the
  night, dispatch hands the letters to the sandbox (SQS batches of 10, as the event source mapping delivers them),
  and each letter gets the status callbacks in WEBHOOKS through the webhooks handler.
- api: `--letters` letters sent with POST /v1/orgs/{org}/letters (a PDF upload), then dispatch and callbacks alike.

Every AWS request the handlers (and the SQS polling the event source mapping does) make is counted with a botocore
`provide-client-params` hook (the operation's own parameters); DynamoDB units are estimated from the request
(1 KB per write unit from the item's JSON size, 4 KB reads counted as one unit, 2 units per transactional item).
Lambda time is the wall time of each handler under moto, in-process: moto's own time stands in for the network
round trips to AWS. Prices come from
bench/aws_prices.json (region and date there); the postage from the sandbox's configured price table
(shared/postal/providers/prices.json).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import importlib
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.cfn import Template
from local.sandbox_server import SandboxServer, webhook_body
from postal import bootstrap
from postal.config import get_config
from postal.models import Postage
from postal.providers.base import PriceRequest, ProviderError
from postal.providers.prices import price_table
from tests.apigw import FakeLambdaContext, call, handler
from tests.aws import provisioned
from tests.conftest import Api, Aws, Org
from tests.integration.letters_support import ADDRESS as WINDOW_ADDRESS
from tests.integration.letters_support import deliver, letter_body, pdf_b64

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT / "bench" / "aws_prices.json"
WEBHOOKS = ("accepted", "printing", "sent")  # the callbacks a letter gets on its way (Pingen-like)
LOGICAL_ID = {
    "collection": "CollectionFunction",
    "dispatch": "DispatchFunction",
    "webhooks": "WebhooksFunction",
    "letters_api": "LettersApiFunction",
}
ADDRESS = {"name": "Jana Müller", "lines": ["Unter den Linden 1"], "postal_code": "10117", "city": "Berlin"}
GOAL_SHARE = Decimal("0.001")  # infrastructure <= 0.1 % of the postage


@dataclass
class Meter:
    """AWS requests (service, operation), DynamoDB units, S3 bytes written, Lambda invocations and milliseconds."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    s3_bytes: int = 0
    events: int = 0
    invocations: Counter[str] = field(default_factory=Counter)
    lambda_ms: dict[str, float] = field(default_factory=dict)
    billed_ms: Counter[str] = field(default_factory=Counter)
    on: bool = False

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.on:
            return
        service, operation = model.service_model.service_name, model.name
        self.requests[(service, operation)] += 1
        if service == "dynamodb":
            self._dynamodb(operation, params)
        elif service == "s3" and operation == "PutObject":
            body = params.get("Body", b"")
            self.s3_bytes += len(body) if isinstance(body, bytes | str) else 0
        elif service == "events" and operation == "PutEvents":
            self.events += len(params.get("Entries", []))

    def _dynamodb(self, operation: str, params: dict[str, Any]) -> None:
        def write(item: dict[str, Any]) -> int:
            return max(1, math.ceil(len(json.dumps(item, default=str)) / 1024))

        def read() -> float:
            return 1.0 if params.get("ConsistentRead") else 0.5

        if operation == "PutItem":
            self.write_units += write(params["Item"])
        elif operation in {"UpdateItem", "DeleteItem"}:
            self.write_units += 1
        elif operation == "BatchWriteItem":
            self.write_units += sum(
                write(r.get("PutRequest", {}).get("Item", {})) for rs in params["RequestItems"].values() for r in rs
            )
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                item = entry.get("Put", {}).get("Item")
                self.write_units += 2 * (write(item) if item else 1)
        elif operation == "TransactGetItems":
            self.read_units += 2 * len(params["TransactItems"])
        elif operation == "BatchGetItem":
            self.read_units += sum(len(v["Keys"]) for v in params["RequestItems"].values()) * 0.5
        elif operation in {"GetItem", "Query", "Scan"}:
            self.read_units += read()

    def clear(self) -> None:
        fresh = Meter()
        self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "on"})

    def untimed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The authorizer: API Gateway caches its answer per key for 300 s, so it costs nothing per letter."""

        @functools.wraps(fn)
        def wrapper(event: Any, context: Any) -> Any:
            with paused(self):
                return fn(event, context)

        return wrapper

    def timed(self, module: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(event: Any, context: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(event, context)
            finally:
                if self.on:
                    ms = (time.perf_counter() - start) * 1000
                    self.invocations[module] += 1
                    self.lambda_ms[module] = self.lambda_ms.get(module, 0.0) + ms
                    self.billed_ms[module] += math.ceil(ms)  # Lambda bills each invocation per started ms

        return wrapper


@contextmanager
def measuring(meter: Meter) -> Iterator[Meter]:
    meter.on = True
    try:
        yield meter
    finally:
        meter.on = False


@contextmanager
def paused(meter: Meter) -> Iterator[None]:
    """The bench's own reads (listing letters, the signing key), not counted."""
    was, meter.on = meter.on, False
    try:
        yield
    finally:
        meter.on = was


def put(org: Org, path: str, body: dict[str, Any]) -> None:
    reply = call("settings_api", "PUT", f"/v1/orgs/{org.org_id}{path}", key=org.key, body=body)
    assert reply.status == 200, reply.body


def org_with_due_invoices(api: Api, n: int, country: str) -> Org:
    org = api.new_org()
    assert api.connect(org).status == 200
    put(org, "/templates/reminder", {"kind": "reminder", "default_channel": "post", "language": "de"})
    put(org, "/collection-steps", {"steps": [{"day_offset": 0, "template_id": "reminder", "action": "post"}]})
    for i in range(n):
        put(org, f"/customers/c{i}", {"name": "Jana Müller", "billing_address": {**ADDRESS, "country": country}})
        put(
            org,
            f"/invoices/inv-{i}",
            {
                "customer_id": f"c{i}",
                "number": f"2026-{i:04d}",
                "issue_date": "2026-10-01",
                "due_date": "2026-11-01",
                "currency": "EUR",
                "open_amount": "120.00",
                "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "vat_rate": "19"}],
            },
        )
    return org


def letters_of(org: Org) -> list[str]:
    reply = call("letters_api", "GET", f"/v1/orgs/{org.org_id}/letters", key=org.key, query={"limit": "100"})
    assert reply.status == 200, reply.body
    return [letter["letter_id"] for letter in reply.json["letters"]]


def callbacks(sandbox: SandboxServer, orgs: list[Org], meter: Meter) -> None:
    """Every status in WEBHOOKS for every letter of `orgs`, signed as the sandbox signs them."""
    for org in orgs:
        with paused(meter):
            secret = bootstrap.secret_store().get(str(bootstrap.stores().integrations.secret_ref(org.org_id)))
            ours = set(letters_of(org))
        for letter in [x for x in sandbox.letters.values() if x.letter_id in ours]:
            for status in WEBHOOKS:
                letter.status = status
                body = webhook_body(letter, str(uuid.uuid4()))
                signature = hmac.new(secret["webhook_signing_key"].encode(), body, hashlib.sha256).hexdigest()
                reply = call(
                    "webhooks",
                    "POST",
                    f"/v1/webhooks/sandbox/{org.org_id}",
                    raw_body=body,
                    headers={"Content-Type": "application/vnd.api+json", "Signature": signature},
                    auth=False,
                )
                assert reply.status == 200, reply.body


def nightly_path(aws: Aws, api: Api, sandbox: SandboxServer, meter: Meter, orgs: int, invoices: int) -> int:
    the_orgs = [org_with_due_invoices(api, invoices, "DE") for _ in range(orgs)]
    with measuring(meter):
        summary = handler("collection")({"job": "nightly-collection", "date": "2026-11-08"}, FakeLambdaContext())
        deliver(aws, max_rounds=10_000)
        callbacks(sandbox, the_orgs, meter)
    sent = sum(len(letters_of(org)) for org in the_orgs)
    ran = sum(o["ran"] for o in summary["orgs"])
    assert sent == ran == orgs * invoices, (sent, ran)
    return sent


def api_path(aws: Aws, api: Api, sandbox: SandboxServer, meter: Meter, letters: int) -> int:
    org = org_with_due_invoices(api, 1, "DE")
    # The uploaded PDF prints WINDOW_ADDRESS in its window: the letter must go to that customer (recipient check).
    put(org, "/customers/c-window", {"name": WINDOW_ADDRESS["name"], "billing_address": WINDOW_ADDRESS})
    body = letter_body(recipient={"customer_id": "c-window"}, pdf_base64=pdf_b64())
    with measuring(meter):
        for i in range(letters):
            reply = call(
                "letters_api",
                "POST",
                f"/v1/orgs/{org.org_id}/letters",
                key=org.key,
                body=body,
                headers={"Idempotency-Key": f"bench-{i}"},
            )
            assert reply.status == 202, reply.body
        deliver(aws, max_rounds=10_000)
        callbacks(sandbox, [org], meter)
    return letters


# ------------------------------------------------------------------------------------------------ pricing


def cost_per_thousand(meter: Meter, letters: int, prices: dict[str, Any], api_requests: int) -> dict[str, Decimal]:
    """USD per 1,000 letters, by AWS service."""
    per = Decimal(1000) / Decimal(letters)
    memory = {f.logical_id: f.memory for f in Template().functions()}
    arch = "arm64"
    gb_s = sum(
        Decimal(meter.billed_ms[m]) / 1000 * Decimal(memory[LOGICAL_ID[m]]) / 1024 for m in meter.billed_ms
    )  # fmt: skip
    lam = prices["lambda"]
    lambda_usd = gb_s * Decimal(str(lam["per_gb_second"][arch])) + Decimal(sum(meter.invocations.values())) * Decimal(
        str(lam["per_million_requests"])
    ) / Decimal(1_000_000)
    ddb = prices["dynamodb"]
    dynamodb_usd = (
        Decimal(str(meter.write_units)) * Decimal(str(ddb["per_million_write_units"]))
        + Decimal(str(meter.read_units)) * Decimal(str(ddb["per_million_read_units"]))
    ) / Decimal(1_000_000)
    s3p = prices["s3"]
    puts = meter.requests[("s3", "PutObject")]
    gets = meter.requests[("s3", "GetObject")] + meter.requests[("s3", "HeadObject")]
    gb = Decimal(meter.s3_bytes) / Decimal(1024**3)
    # Kept: 90 days in Standard, then Standard-IA (template lifecycle); the first year of storage.
    storage = gb * (3 * Decimal(str(s3p["standard_per_gb_month"])) + 9 * Decimal(str(s3p["standard_ia_per_gb_month"])))
    s3_usd = (
        Decimal(puts) * Decimal(str(s3p["per_thousand_put"])) + Decimal(gets) * Decimal(str(s3p["per_thousand_get"]))
    ) / 1000 + storage
    sqs_usd = (
        Decimal(sum(n for (s, _), n in meter.requests.items() if s == "sqs"))
        * Decimal(str(prices["sqs"]["per_million_requests"]))
        / Decimal(1_000_000)
    )
    events_usd = Decimal(meter.events) * Decimal(str(prices["eventbridge"]["per_million_custom_events"])) / 1_000_000
    secrets_usd = (
        Decimal(meter.requests[("secretsmanager", "GetSecretValue")])
        * Decimal(str(prices["secrets_manager"]["per_ten_thousand_calls"]))
        / 10_000
    )
    apigw_usd = Decimal(api_requests) * Decimal(str(prices["api_gateway"]["rest_per_million_requests"])) / 1_000_000
    costs = {
        "Lambda": lambda_usd,
        "DynamoDB": dynamodb_usd,
        "S3 (requests + 1st year storage)": s3_usd,
        "SQS": sqs_usd,
        "EventBridge": events_usd,
        "Secrets Manager": secrets_usd,
        "API Gateway": apigw_usd,
    }
    return {k: v * per for k, v in costs.items()}


def postage_eur() -> dict[str, Decimal]:
    table = price_table("sandbox")
    out = {}
    for postage in (Postage.ECONOMY, Postage.PRIORITY):
        try:
            quote = table.quote(
                PriceRequest(country="DE", pages=1, color=False, duplex=False, postage=postage), provider="sandbox"
            )
        except ProviderError:  # a postage the table does not offer to DE
            continue
        out[postage.value] = quote.amount
    return out


def report(name: str, meter: Meter, letters: int, prices: dict[str, Any], api_requests: int) -> Decimal:
    print(f"\n== {name}: {letters} letters")
    print(f"{'requests per letter':44} {'count':>8}")
    for (service, operation), n in sorted(meter.requests.items()):
        print(f"  {service + ' ' + operation:42} {n / letters:8.2f}")
    ddb = sum(n for (s, _), n in meter.requests.items() if s == "dynamodb")
    print(f"  {'DynamoDB requests, all':42} {ddb / letters:8.2f}")
    print(f"  {'DynamoDB write / read units (estimated)':42} {meter.write_units / letters:8.2f} / "
          f"{meter.read_units / letters:.2f}")  # fmt: skip
    print(f"  {'API Gateway requests':42} {api_requests / letters:8.2f}")
    print(f"\n{'Lambda per letter':24} {'invocations':>11} {'ms':>8} {'MB':>6}")
    memory = {f.logical_id: f.memory for f in Template().functions()}
    for module in sorted(meter.lambda_ms):
        print(
            f"  {module:22} {meter.invocations[module] / letters:11.3f} {meter.lambda_ms[module] / letters:8.1f}"
            f" {memory[LOGICAL_ID[module]]:6}"
        )
    costs = cost_per_thousand(meter, letters, prices, api_requests)
    total = sum(costs.values(), Decimal(0))
    print(f"\n{'USD per 1,000 letters':36} {'USD':>10}")
    for service, usd in costs.items():
        print(f"  {service:34} {usd:10.4f}")
    print(f"  {'total':34} {total:10.4f}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--invoices", type=int, default=20)
    parser.add_argument("--letters", type=int, default=30)
    args = parser.parse_args()
    prices = json.loads(PRICES.read_text(encoding="utf-8"))

    mp = pytest.MonkeyPatch()
    mp.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # before the handlers are imported (postal.tracing)
    mp.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    mp.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")  # no per-letter log lines between the tables
    meter = Meter()
    for module in LOGICAL_ID:
        mod = importlib.import_module(f"{module}.handler")
        mp.setattr(mod, "lambda_handler", meter.timed(module, mod.lambda_handler))
    authorizer = importlib.import_module("authorizer.handler")
    mp.setattr(authorizer, "lambda_handler", meter.untimed(authorizer.lambda_handler))
    with provisioned(mp) as resources:
        mp.setenv("CASCADE_SETTLE_SECONDS", "0")
        sandbox = SandboxServer(port=0, speed=1)
        mp.setenv("SANDBOX_URL", sandbox.start())
        try:
            boto3.setup_default_session()
            assert boto3.DEFAULT_SESSION is not None
            # Registered on the session before any client exists: every client the handlers create inherits it.
            boto3.DEFAULT_SESSION.events.register("provide-client-params", meter.before_call)
            get_config.cache_clear()
            bootstrap.reset()
            aws, api = Aws(resources), Api(Aws(resources))

            print(f"AWS prices: {prices['region']}, {prices['date']} (bench/aws_prices.json); arm64 Lambda")
            nightly = nightly_path(aws, api, sandbox, meter, args.orgs, args.invoices)
            nightly_total = report("nightly path", meter, nightly, prices, api_requests=nightly * len(WEBHOOKS))

            meter.clear()
            sent = api_path(aws, api, sandbox, meter, args.letters)
            api_total = report("api path", meter, sent, prices, api_requests=sent * (1 + len(WEBHOOKS)))
        finally:
            sandbox.stop()
            mp.undo()

    eur = Decimal(str(prices["eur_per_usd"]))
    print(f"\n{'postage (sandbox table, DE, 1 page)':40} {'EUR/1,000':>10} {'nightly %':>10} {'api %':>8}  goal")
    for postage, amount in postage_eur().items():
        per_thousand = amount * 1000
        shares = [total * eur / per_thousand for total in (nightly_total, api_total)]
        verdict = "met" if all(s <= GOAL_SHARE for s in shares) else "missed"
        print(
            f"  {postage:38} {per_thousand:10.2f} {shares[0] * 100:9.4f}% {shares[1] * 100:7.4f}%  "
            f"<= {GOAL_SHARE * 100}%: {verdict}"
        )


if __name__ == "__main__":
    main()

"""`make run`: the whole service on 127.0.0.1, no Docker, no AWS account.

    PYTHONPATH=shared:functions:. .venv/bin/python -m local.stack

Starts moto in server mode, creates the resources of template.yaml in it, starts the sandbox provider (when
local/sandbox_server.py exists), the SQS pollers and the API gateway, prints what it serves, and stops all of
it on Ctrl-C or SIGTERM. Environment: PORT (3000), MOTO_PORT (free port), POSTAL_ADMIN_KEY (local-admin-key),
LOCAL_VISIBILITY_TIMEOUT (5 s), SANDBOX_PORT (free port), SANDBOX_SPEED (passed through).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from contextlib import ExitStack
from types import FrameType

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local.cfn import REGION, Template
from local.gateway import Gateway
from local.lambda_runtime import LambdaRuntime
from local.moto_patches import SerializedDynamoDB, forget_moto_instances, item_level_rollback
from local.provision import DEFAULT_ADMIN_KEY, Resources, provision
from local.sqs_poller import SqsPoller

log = logging.getLogger("local")

# How often the stack empties moto's registry of every model object it ever made (memory that only grows).
FORGET_EVERY_S = 30


class SafeMotoServer(ThreadedMotoServer):
    """moto in server mode with DynamoDB calls serialized (moto's backend is not thread-safe)."""

    def _server_entry(self) -> None:
        app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def _point_sdk_at(moto_url: str) -> None:
    """Make every boto3 client in this process (the handlers' too) talk to moto, never to a real account."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ENDPOINT_URL=moto_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's dummy credentials
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )


def _function_environment(resources: Resources, base_url: str, sandbox_url: str | None) -> dict[str, str]:
    """Globals + functions' variables (resolved), with the local overrides on top."""
    env = resources.function_environment()
    env.update(POWERTOOLS_TRACE_DISABLED="true", PUBLIC_BASE_URL=base_url, POSTAL_LOCAL="1")
    env["CASCADE_SETTLE_SECONDS"] = os.environ.get("CASCADE_SETTLE_SECONDS", "1")  # moto's GSIs are consistent
    if sandbox_url:
        env["SANDBOX_URL"] = sandbox_url
    return env


def _start_sandbox(stack: ExitStack) -> str | None:
    """Start the sandbox provider; the stack still serves everything else if it cannot be imported."""
    try:
        from local.sandbox_server import SandboxServer
    except ImportError:
        log.exception("the `sandbox` provider is not available")
        return None
    sandbox = SandboxServer(port=int(os.environ.get("SANDBOX_PORT", "0")))
    url = sandbox.start()
    stack.callback(sandbox.stop)
    return url


def _banner(gateway: Gateway, resources: Resources, queues: dict[str, str], startup_s: float) -> str:
    base = gateway.base_url
    admin = resources.admin_key
    key_hint = admin if admin == DEFAULT_ADMIN_KEY else "(from POSTAL_ADMIN_KEY)"
    lines = [
        "",
        f"Postal Comms local stack is up in {startup_s:.1f} s",
        f"  API         {base}/v1   ({len(gateway.routes)} routes, stage {gateway.stage})",
        f"  health      {base}/v1/health",
        f"  Swagger UI  {base}/docs",
        f"  served      {base}/local",
        f"  admin key   Authorization: Bearer {key_hint}",
        f"  moto        {gateway.info['moto_endpoint']}   (aws --endpoint-url ...; credentials: testing)",
        f"  sandbox     {gateway.info['sandbox_url'] or 'not available'}",
        "  schedules",
        *(f"    curl -X POST {base}/local/schedules/{name}" for name in sorted(gateway.schedules)),
        "  queues",
        *(f"    {logical}: {url}" for logical, url in queues.items()),
        f"  not created {len(resources.skipped)} resources (functions, Api, layers, alarms...: see /local)",
        "Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def _start_moto(stack: ExitStack) -> str:
    """moto in server mode on 127.0.0.1 (MOTO_PORT or a free port), with the SDK of this process pointed at it."""
    moto = SafeMotoServer(ip_address="127.0.0.1", port=int(os.environ.get("MOTO_PORT", "0")), verbose=False)
    moto.start()
    stack.callback(moto.stop)
    host, moto_port = moto.get_host_and_port()
    moto_url = f"http://{host}:{moto_port}"
    _point_sdk_at(moto_url)
    return moto_url


def _start_pollers(stack: ExitStack, runtime: LambdaRuntime, resources: Resources, moto_url: str) -> list[SqsPoller]:
    """One poller per SQS event source of the template's functions; stopped (and joined) with the stack."""
    pollers_stop = threading.Event()
    pollers = [
        SqsPoller(
            runtime,
            spec.logical_id,
            source,
            resources.queue_url(source.queue),
            resources.queue_arn(source.queue),
            moto_url,
            pollers_stop,
        )
        for spec in runtime.functions.values()
        for source in spec.sqs
    ]
    for poller in pollers:
        poller.start()

    def stop_pollers() -> None:
        pollers_stop.set()
        for poller in pollers:
            poller.join(timeout=5)

    stack.callback(stop_pollers)
    return pollers


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM (e.g. from a test runner or a process manager): both stop cleanly."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _serve_until(stop: threading.Event) -> None:
    """Block until `stop`, emptying moto's instance registry every FORGET_EVERY_S meanwhile."""
    last_forget = time.monotonic()
    while not stop.wait(0.5):
        if time.monotonic() - last_forget >= FORGET_EVERY_S:
            forget_moto_instances()
            last_forget = time.monotonic()


def run() -> int:
    """Start everything, block until Ctrl-C/SIGTERM, then stop everything in reverse order."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    # moto's per-request log and botocore's endpoint notices are noise next to the one line per request.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    started = time.monotonic()
    port = int(os.environ.get("PORT", "3000"))
    stop = _stop_on_signals()  # exit code 0 on either

    with ExitStack() as stack:
        # Transactions back up the items they name, not whole tables (memory and time flat as the tables grow).
        stack.enter_context(item_level_rollback())
        moto_url = _start_moto(stack)
        template = Template()
        visibility = int(os.environ.get("LOCAL_VISIBILITY_TIMEOUT", "5"))
        resources = provision(template, endpoint_url=moto_url, visibility_timeout=visibility)
        sandbox_url = _start_sandbox(stack)
        os.environ.update(_function_environment(resources, f"http://127.0.0.1:{port}", sandbox_url))

        runtime = LambdaRuntime(template.functions())
        queues = {logical: resources.queue_url(logical) for logical in template.of_type("AWS::SQS::Queue")}
        pollers = _start_pollers(stack, runtime, resources, moto_url)
        gateway = Gateway(
            template,
            runtime,
            port=port,
            info={
                "moto_endpoint": moto_url,
                "sandbox_url": sandbox_url,
                "queues": queues,
                "pollers": {p.source.queue: p.function for p in pollers},
                "visibility_timeout_s": visibility,
                "not_created": resources.skipped,
            },
        )
        try:
            gateway.start()
        except OSError as exc:
            log.error("cannot listen on 127.0.0.1:%d (%s); set PORT to a free port", port, exc.strerror)
            return 1
        stack.callback(gateway.stop)
        print(_banner(gateway, resources, queues, time.monotonic() - started), flush=True)
        _serve_until(stop)
        log.info("stopping")
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(run())

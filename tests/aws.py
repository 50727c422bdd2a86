"""AWS under moto's in-process `mock_aws`, provisioned from template.yaml by the same code as `make run`.

    from tests.aws import provisioned

    @pytest.fixture
    def aws(monkeypatch):
        with provisioned(monkeypatch) as resources:
            yield resources

Inside the block every table, bucket, queue, event bus and secret of the template exists (physical ids from
`local.cfn`, e.g. `postal-local-Table`), and os.environ holds what the functions see in Lambda (Globals and
function variables resolved to those ids), with tracing and metrics off and no way to reach a real account.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto import mock_aws

from local.cfn import REGION, Template
from local.lambda_runtime import LambdaContext
from local.provision import Resources, provision

# Variables that could send boto3 to a real account or to a running `make run` instead of mock_aws.
_LEAKY_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


@contextmanager
def provisioned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resources]:
    """Provision template.yaml in `mock_aws` and set the functions' environment for the block."""
    for name in _LEAKY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        resources = provision(Template())
        for name, value in resources.function_environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "1")  # no EMF lines in test output
        yield resources


def lambda_context(resources: Resources, function_logical_id: str) -> LambdaContext:
    """The context Lambda would pass to that function (name, memory and remaining time from the template)."""
    spec = next(f for f in resources.template.functions() if f.logical_id == function_logical_id)
    return LambdaContext(spec.name, spec.memory, spec.timeout)

"""Templates, customers, collection steps, invoices and tasks of an org."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap, catalog
from postal.api.app import build_app, require_org
from postal.clock import now_iso
from postal.models import (
    CollectionStepsIn,
    Customer,
    CustomerIn,
    Identifier,
    InvoiceIn,
    InvoiceRecord,
    Task,
    TaskKind,
    TaskQuery,
    TaskStatus,
    Template,
    TemplateIn,
)
from postal.tracing import get_tracer

DATE = r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+Z?)?$"  # as for letters

logger = Logger()
tracer = get_tracer()
app = build_app()


@app.get("/v1/orgs/<org_id>/templates")
def list_templates(org_id: str) -> list[Template]:
    return catalog.list_templates(bootstrap.stores(), require_org(app, org_id))


@app.put("/v1/orgs/<org_id>/templates/<template_id>")
def put_template(org_id: str, template_id: Identifier, body: TemplateIn) -> Template:
    return catalog.put_template(bootstrap.stores(), require_org(app, org_id), template_id, body, now_iso())


@app.get("/v1/orgs/<org_id>/templates/<template_id>")
def get_template(org_id: str, template_id: str) -> Template:
    return catalog.get_template(bootstrap.stores(), require_org(app, org_id), template_id)


@app.put("/v1/orgs/<org_id>/customers/<customer_id>")
def put_customer(org_id: str, customer_id: Identifier, body: CustomerIn) -> Customer:
    return catalog.put_customer(bootstrap.stores(), require_org(app, org_id), customer_id, body, now_iso())


@app.get("/v1/orgs/<org_id>/customers/<customer_id>")
def get_customer(org_id: str, customer_id: str) -> Customer:
    return catalog.get_customer(bootstrap.stores(), require_org(app, org_id), customer_id)


@app.put("/v1/orgs/<org_id>/collection-steps")
def put_steps(org_id: str, body: CollectionStepsIn) -> catalog.StepsView:
    return catalog.put_steps(bootstrap.stores(), require_org(app, org_id), body, now_iso())


@app.get("/v1/orgs/<org_id>/collection-steps")
def get_steps(org_id: str) -> catalog.StepsView:
    return catalog.get_steps(bootstrap.stores(), require_org(app, org_id))


@app.put("/v1/orgs/<org_id>/invoices/<invoice_id>")
def put_invoice(org_id: str, invoice_id: Identifier, body: InvoiceIn) -> InvoiceRecord:
    return catalog.put_invoice(bootstrap.stores(), require_org(app, org_id), invoice_id, body, now_iso())


@app.get("/v1/orgs/<org_id>/invoices/<invoice_id>")
def get_invoice(org_id: str, invoice_id: str) -> InvoiceRecord:
    return catalog.get_invoice(bootstrap.stores(), require_org(app, org_id), invoice_id)


@app.get("/v1/orgs/<org_id>/tasks")
def list_tasks(
    org_id: str,
    status: Annotated[TaskStatus, Query()] = TaskStatus.OPEN,
    kind: Annotated[TaskKind | None, Query()] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    created_from: Annotated[str | None, Query(pattern=DATE, description="ISO date or timestamp, inclusive")] = None,
    created_to: Annotated[str | None, Query(pattern=DATE, description="ISO date or timestamp, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> catalog.TaskPage:
    """Tasks in one status (`open` by default, `done` for completed ones), oldest first; kind and customer filter
    each page read, so a page may hold fewer than `limit` while `next_cursor` says there is more."""
    query = TaskQuery(
        status=status, kind=kind, customer_id=customer_id, created_from=created_from, created_to=created_to
    )
    return catalog.list_tasks(bootstrap.stores(), require_org(app, org_id), query, limit, cursor)


@app.get("/v1/orgs/<org_id>/tasks/<task_id>")
def get_task(org_id: str, task_id: str) -> Task:
    return catalog.get_task(bootstrap.stores(), require_org(app, org_id), task_id)


@app.post("/v1/orgs/<org_id>/tasks/<task_id>/complete")
def complete_task(org_id: str, task_id: str) -> Task:
    return catalog.complete_task(bootstrap.stores(), require_org(app, org_id), task_id, now_iso())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

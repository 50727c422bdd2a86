"""Letters: send (202, Idempotency-Key), get with history, list with filters, cancel, and price quotes (one letter,
or a whole nightly run)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap
from postal.api.app import build_app, header, require_org
from postal.clock import now_iso
from postal.collection import RunQuote
from postal.letters import CancelOut, LetterIn, LetterPage, LetterView, cancel, create, pricing, views
from postal.models import LetterStatus, Postage, ProviderName
from postal.tracing import get_tracer

logger = Logger()
tracer = get_tracer()
app = build_app()

DATE = r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+Z?)?$"


@app.post("/v1/orgs/<org_id>/letters")
def create_letter(org_id: str, body: LetterIn) -> Response[LetterView]:
    letter = create.create_letter(
        bootstrap.letter_ports(),
        require_org(app, org_id),
        body,
        header(app, "Idempotency-Key"),
        now_iso(),
    )
    return Response(202, content_types.APPLICATION_JSON, letter)


@app.get("/v1/orgs/<org_id>/letters")
def list_letters(
    org_id: str,
    status: Annotated[LetterStatus | None, Query()] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    created_from: Annotated[str | None, Query(pattern=DATE, description="ISO date or timestamp, inclusive")] = None,
    created_to: Annotated[str | None, Query(pattern=DATE, description="ISO date or timestamp, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> LetterPage:
    return views.list_letters(
        bootstrap.letters(),
        require_org(app, org_id),
        status=status,
        customer_id=customer_id,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )


@app.get("/v1/orgs/<org_id>/letters/<letter_id>")
def get_letter(org_id: str, letter_id: str) -> LetterView:
    return views.get_letter(bootstrap.letters(), bootstrap.documents(), require_org(app, org_id), letter_id)


@app.post("/v1/orgs/<org_id>/letters/<letter_id>/cancel")
def cancel_letter(org_id: str, letter_id: str) -> Response[CancelOut]:
    """Cancels the letter: 200 with the outcome; a letter being handed to the provider is waited for a few seconds,
    and if the hand-over takes longer the cancel is queued (202, `cancel_queued: true`)."""
    outcome = cancel.cancel_letter(
        bootstrap.letters(), bootstrap.providers(), bootstrap.events(), require_org(app, org_id), letter_id, now_iso()
    )
    return Response(202 if outcome.cancel_queued else 200, content_types.APPLICATION_JSON, outcome)


@app.get("/v1/orgs/<org_id>/prices")
def prices(
    org_id: str,
    country: Annotated[str, Query(pattern=r"^[A-Za-z]{2}$")],
    pages: Annotated[int, Query(ge=1, le=120)] = 1,
    color: Annotated[bool, Query()] = False,
    duplex: Annotated[bool, Query()] = False,
    postage: Annotated[Postage, Query()] = Postage.PRIORITY,
    volume: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    provider: Annotated[
        ProviderName | None,
        Query(description="Price this provider from its public price table (required before connecting)"),
    ] = None,
) -> pricing.PriceOut:
    """A price per letter before sending: exact from the connected provider (`estimate: false` when it has a price
    endpoint), or an estimate from a provider's public price table (`estimate: true`) before connecting or to
    compare providers."""
    return pricing.quote(
        bootstrap.stores(),
        bootstrap.providers(),
        require_org(app, org_id),
        country=country,
        pages=pages,
        color=color,
        duplex=duplex,
        postage=postage,
        volume=volume,
        provider=provider,
    )


@app.get("/v1/orgs/<org_id>/prices/nightly")
def nightly_run_price(
    org_id: str,
    run_date: Annotated[date | None, Query(alias="date", description="The run's date (default: today, UTC)")] = None,
) -> RunQuote:
    """Prices what the nightly run of that date would post, before anything is sent: each due step that resolves
    to post is rendered as the run renders it to count its pages, and the letters are priced by the connected
    provider, grouped by destination and page count at the group's volume. Due steps that would not become a
    letter (no usable address, a custom layout, ...) are listed with the reason. Up to 500 due invoices."""
    return pricing.quote_run(
        bootstrap.stores(),
        bootstrap.providers(),
        require_org(app, org_id),
        run_date or datetime.now(UTC).date(),
        now_iso(),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

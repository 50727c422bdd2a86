"""Connecting and disconnecting the postal integration (`postal.integration`) on the in-memory ports."""

from __future__ import annotations

from typing import Any

import pytest

from postal import integration
from postal.errors import Conflict, ValidationFailed
from postal.integration import CascadeMessage, ConnectedView, ConnectIn, ConnectPreview
from postal.models import IntegrationStatus, LetterStatus, ProviderName
from tests.fakes.memory import MemoryWorld
from tests.unit.services.conftest import ORG, customer, steps, template


def accept(provider: str, credentials: dict[str, Any]) -> dict[str, Any]:
    return {**credentials, "checked_for": provider}


def connect(world: MemoryWorld, *, confirm: bool = True, stage: str = "dev") -> ConnectPreview | ConnectedView:
    body = ConnectIn(provider=ProviderName.SANDBOX, credentials={"token": "t"}, confirm=confirm)
    return integration.connect(world.stores, world.secrets, accept, ORG, body, world.now(), stage=stage)


def test_a_preview_changes_nothing(world: MemoryWorld) -> None:
    preview = connect(world, confirm=False)
    assert isinstance(preview, ConnectPreview) and preview.compatible
    assert world.stores.integrations.get_integration(ORG).status is IntegrationStatus.DISCONNECTED
    assert world.secrets.versions == {}


def test_connect_stores_one_secret_per_connection_and_moves_the_generation_on(world: MemoryWorld) -> None:
    connected = connect(world)
    assert isinstance(connected, ConnectedView) and connected.status is IntegrationStatus.CONNECTED
    stored = world.stores.integrations.get_integration(ORG)
    assert (stored.generation, stored.provider) == (1, ProviderName.SANDBOX)
    secret = world.secrets.get(world.stores.integrations.secret_ref(ORG) or "")
    assert secret["credentials"] == {"token": "t", "checked_for": "sandbox"}
    with pytest.raises(Conflict) as again:
        connect(world)
    assert again.value.code == "already_connected"


def test_the_sandbox_cannot_be_connected_in_production(world: MemoryWorld) -> None:
    with pytest.raises(ValidationFailed):
        connect(world, stage="prod")
    assert world.stores.integrations.get_integration(ORG).status is IntegrationStatus.DISCONNECTED


def test_impact_counts_what_a_disconnect_would_change(world: MemoryWorld) -> None:
    connect(world)
    template(world, "tpl_post", "post")
    steps(world, {"day_offset": 3, "template_id": "tpl_post", "action": "post"})
    customer(world, "c_post", preference="post")
    customer(world, "c_paper", paper_invoice=True)
    world.letter(ORG, "let_q", LetterStatus.QUEUED)
    world.letter(ORG, "let_s", LetterStatus.SUBMITTED)
    impact = integration.impact(world.stores, ORG)
    assert (impact.customers_with_post, impact.customers_with_paper_invoice, impact.customers_to_reset) == (1, 1, 2)
    assert (impact.templates_with_post, impact.steps_with_post, impact.letters_in_flight) == (["tpl_post"], [0], 1)


def test_disconnect_flips_at_once_and_queues_the_cascade(world: MemoryWorld) -> None:
    connect(world)
    job = integration.disconnect(world.stores, world.cascade, ORG, world.now())
    stored = world.stores.integrations.get_integration(ORG)
    assert (stored.status, stored.generation, stored.last_job_id) == (IntegrationStatus.DISCONNECTED, 2, job.job_id)
    assert world.cascade.messages == [CascadeMessage(org_id=ORG, job_id=job.job_id)]
    assert integration.get_job(world.stores, ORG, job.job_id).status == "running"
    with pytest.raises(Conflict) as twice:
        integration.disconnect(world.stores, world.cascade, ORG, world.now())
    assert twice.value.code == "integration_not_connected"


def test_connect_waits_until_the_previous_disconnect_is_applied(world: MemoryWorld) -> None:
    connect(world)
    job = integration.disconnect(world.stores, world.cascade, ORG, world.now())
    with pytest.raises(Conflict) as busy:
        connect(world)
    assert busy.value.code == "disconnect_in_progress"
    world.stores.jobs.finish_job(ORG, job.job_id, world.now())
    reconnected = connect(world)
    assert isinstance(reconnected, ConnectedView)
    refs = world.stores.integrations.secret_refs(ORG)
    assert len(refs) == 2 and refs[0] != refs[1]  # the earlier connection's secret is kept for its letters

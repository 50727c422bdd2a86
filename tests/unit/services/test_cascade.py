"""The disconnect cascade (`postal.cascade.run_page`) on the in-memory ports, page by page."""

from __future__ import annotations

from postal.cascade import PageResult, run_page
from postal.integration import CascadeMessage, disconnect
from postal.models import Channel, JobStatus, LetterStatus, StepAction
from tests.fakes.memory import MemoryWorld
from tests.unit.services.conftest import ORG, customer, steps, template


def disconnected_org(world: MemoryWorld) -> CascadeMessage:
    """An org with post everywhere (a template, a step, customers, unsubmitted letters), then disconnected."""
    world.connect(ORG)
    template(world, "tpl_post", "post")
    template(world, "tpl_mail", "email")
    steps(world, {"day_offset": 7, "template_id": "tpl_mail", "action": "email"},
          {"day_offset": 14, "template_id": "tpl_post", "action": "post"})  # fmt: skip
    for n in range(3):
        customer(world, f"c_post_{n}", preference="post")
    customer(world, "c_paper", preference="email", paper_invoice=True)
    customer(world, "c_email", preference="email")
    world.letter(ORG, "let_created", LetterStatus.CREATED)
    world.letter(ORG, "let_queued", LetterStatus.QUEUED)
    world.letter(ORG, "let_sent", LetterStatus.SUBMITTED, provider_letter_id="sandbox-9")
    disconnect(world.stores, world.cascade, ORG, world.now())
    (message,) = world.cascade.take()
    assert isinstance(message, CascadeMessage)
    return message


def page(world: MemoryWorld, message: CascadeMessage, size: int = 2) -> PageResult:
    return run_page(world.stores, world.events, message, size, world.now())


def run_all(world: MemoryWorld, message: CascadeMessage) -> list[str]:
    phases = []
    next_message: CascadeMessage | None = message
    while next_message is not None:
        result = page(world, next_message)
        phases.append(result.phase)
        next_message = result.next
    return phases


def test_a_cascade_reverts_post_everywhere_and_cancels_each_unsubmitted_letter_once(world: MemoryWorld) -> None:
    message = disconnected_org(world)
    phases = run_all(world, message)
    assert phases[0] == "customers" and phases[-2:] == ["settling", "done"]
    stores = world.stores
    assert stores.templates.get_template(ORG, "tpl_post").default_channel is Channel.EMAIL
    assert [s.action for s in stores.collection.get_steps(ORG)[0]] == [StepAction.EMAIL, StepAction.MANUAL_INTERVENTION]
    for n in range(3):
        assert stores.customers.get_customer(ORG, f"c_post_{n}").preference is None
    assert stores.customers.get_customer(ORG, "c_paper").paper_invoice is False
    assert stores.customers.get_customer(ORG, "c_email").preference is Channel.EMAIL
    assert stores.customers.postal_customers(ORG, 10) == []
    assert world.status_of(ORG, "let_created") is LetterStatus.CANCELLED
    assert world.status_of(ORG, "let_queued") is LetterStatus.CANCELLED
    assert world.status_of(ORG, "let_sent") is LetterStatus.SUBMITTED
    published = sorted((d["letter_id"], d["previous_status"], d["status"]) for d in world.published())
    assert published == [("let_created", "created", "cancelled"), ("let_queued", "queued", "cancelled")]
    job = stores.jobs.get_job(ORG, message.job_id)
    assert (job.status, job.total, job.done) == (JobStatus.COMPLETED, 8, 8)
    assert job.counts == {"templates": 1, "steps": 1, "customers": 4, "letters": 2}


def test_a_duplicate_page_changes_and_counts_nothing_twice(world: MemoryWorld) -> None:
    message = disconnected_org(world)
    first = page(world, message)
    again = page(world, message)
    assert first.changed == 4  # the template, the step and a page of two customers
    assert (again.phase, again.changed) == ("customers", 2)  # only the next customers
    run_all(world, message)
    job = world.stores.jobs.get_job(ORG, message.job_id)
    assert (job.done, job.counts["customers"], job.counts["letters"]) == (8, 4, 2)
    assert len(list(world.published())) == 2
    assert page(world, message) == PageResult(changed=0, phase="done")


def test_a_letter_held_by_a_dispatch_is_left_to_it(world: MemoryWorld) -> None:
    world.connect(ORG)
    world.letter(ORG, "let_held")
    generation = world.stores.integrations.get_integration(ORG).generation
    world.letters.claim(ORG, "let_held", generation=generation, message_id="m-1", at=world.now(), stale_before="")
    disconnect(world.stores, world.cascade, ORG, world.now())
    (message,) = world.cascade.take()
    assert isinstance(message, CascadeMessage)
    run_all(world, message)
    assert world.status_of(ORG, "let_held") is LetterStatus.QUEUED
    assert list(world.published()) == []


def test_a_stale_page_of_an_earlier_disconnect_changes_nothing_after_a_reconnect(world: MemoryWorld) -> None:
    world.connect(ORG)
    disconnect(world.stores, world.cascade, ORG, world.now())
    (message,) = world.cascade.take()
    assert isinstance(message, CascadeMessage)
    world.connect(ORG)  # as if the job had been left running (connect refuses that; a stale duplicate remains)
    world.letter(ORG, "let_1")
    assert page(world, message) == PageResult(changed=0, phase="superseded")
    assert world.status_of(ORG, "let_1") is LetterStatus.QUEUED

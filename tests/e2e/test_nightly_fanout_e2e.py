"""The nightly schedule fired on the local stack fans out: each org's letters are sent by NightlyPagesFunction's
poller, and firing again the same night changes nothing (issue 15)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_seeds import connect, customer, fire, invoice, new_org, templates, today, wait_job

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

POST_STEP = {"steps": [{"day_offset": 0, "template_id": "reminder", "action": "post"}]}


def test_the_nightly_schedule_sends_each_orgs_letters_and_firing_again_changes_nothing(stack: Stack) -> None:
    orgs = [new_org(stack) for _ in range(3)]
    for n, org in enumerate(orgs):
        assert connect(org).status == 200
        templates(org)
        customer(org)
        org.ok("PUT", "/collection-steps", POST_STEP)
        for i in range(n + 1):
            invoice(org, f"inv-{i}")
    started = fire(stack)
    assert started["orgs"] >= 3 and started["run_key"]
    for n, org in enumerate(orgs):
        job = wait_job(org, f"nightly-{today()}")
        assert (job["status"], job["done"], job["total"]) == ("completed", n + 1, n + 1)
        assert (job["counts"]["letters"], job["counts"]["failed"]) == (n + 1, 0)
    fire(stack)
    for n, org in enumerate(orgs):
        job = wait_job(org, f"nightly-{today()}")
        assert (job["firings"], job["counts"]["letters"], job["counts"]["ran"]) == (2, n + 1, n + 1)
        letters = org.ok("GET", "/letters")["letters"]
        assert len(letters) == n + 1

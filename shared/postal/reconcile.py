"""Lost webhooks: the letter-reconciliation schedule asks the provider about letters stuck in a non-final status.

A webhook can be lost for good (Pingen stops retrying after ~7 h, PostGrid after 7 h, MySendingBox's retries are
undocumented) and Pingen has no webhook for `printing` at all. So every hour, per org, letters that entered a
non-final status longer ago than their provider normally needs are read back from the provider that holds them
(through the connection they were sent with, also after a disconnect or a switch of provider), and what the
provider says goes through the one state machine (`webhooks.apply_event`): history, forward-only moves, returned
mail, failed-letter tasks and status events, exactly as a webhook would. Each run per org is a job with progress.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from postal.letters import Letter, Publisher
from postal.models import Job, JobStatus, LetterStatus
from postal.ports import Letters, Stores
from postal.providers.base import PostalProvider, ProviderError, WebhookEvent
from postal.providers.connections import ProviderFactory
from postal.webhooks import apply_event

logger = Logger(child=True)

IN_FLIGHT = (LetterStatus.SUBMITTED, LetterStatus.ACCEPTED, LetterStatus.PRINTING, LetterStatus.SENT)
# How long a letter normally stays in one status at each provider before we ask (hours).
DEFAULT_AFTER_HOURS: dict[str, int] = {"pingen": 24, "postgrid": 48, "mysendingbox": 48, "generic": 24, "sandbox": 1}
SOURCE = "reconciliation"


class ReconcileInput(BaseModel):
    job: Literal["letter-reconciliation"] = "letter-reconciliation"
    org_id: str | None = None


class OrgReconciled(BaseModel):
    org_id: str
    job_id: str
    checked: int
    changed: int
    failed: int


def after_hours(config: str) -> dict[str, int]:
    """`"pingen=48,postgrid=72"` over the defaults; a malformed entry is ignored (logged), never fatal."""
    hours = dict(DEFAULT_AFTER_HOURS)
    for part in filter(None, (p.strip() for p in config.split(","))):
        name, _, value = part.partition("=")
        if value.strip().isdigit() and name.strip():
            hours[name.strip()] = int(value)
        else:
            logger.warning("reconcile_after_hours entry ignored", extra={"entry": part})
    return hours


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(now: str) -> datetime:
    return datetime.fromisoformat(now.replace("Z", "+00:00"))


def run(
    stores: Stores,
    letters: Letters,
    providers: ProviderFactory,
    events: Publisher,
    request: ReconcileInput,
    now: str,
    *,
    hours: dict[str, int],
    batch: int,
) -> list[OrgReconciled]:
    """Every org (or the one asked for); one org's failure is logged and does not stop the others."""
    org_ids = [request.org_id] if request.org_id else list(stores.orgs.iter_org_ids())
    done = []
    for org_id in org_ids:
        try:
            done.append(reconcile_org(stores, letters, providers, events, org_id, now, hours=hours, batch=batch))
        except Exception:
            logger.exception("letter reconciliation failed for an org", extra={"org_id": org_id})
    return done


def reconcile_org(
    stores: Stores,
    letters: Letters,
    providers: ProviderFactory,
    events: Publisher,
    org_id: str,
    now: str,
    *,
    hours: dict[str, int],
    batch: int,
) -> OrgReconciled:
    moment = _parse(now)
    # One job per org and hour: a second firing within the hour continues the same job.
    job = stores.jobs.ensure_job(
        Job(
            job_id=f"job_reconcile_{moment.strftime('%Y%m%dT%H')}",
            org_id=org_id,
            kind="letter_reconciliation",
            status=JobStatus.RUNNING,
            started_at=now,
        )
    )
    due = _due_letters(letters, org_id, moment, hours, batch)
    stores.jobs.set_job_total(org_id, job.job_id, len(due), {"checked": 0, "changed": 0, "failed": 0})
    adapters: dict[str | None, PostalProvider] = {}
    changed = failed = 0
    for letter in due:
        try:
            if letter.secret_ref not in adapters:
                adapters[letter.secret_ref] = providers.for_ref(org_id, letter.secret_ref)
            moved = _reconcile_letter(stores, letters, events, adapters[letter.secret_ref], letter, now)
        except ProviderError as exc:
            failed += 1
            logger.warning(
                "reconciliation could not read a letter",
                extra={"org_id": org_id, "letter_id": letter.letter_id, "code": exc.code},
            )
            stores.jobs.add_job_done(org_id, job.job_id, "failed")
            continue
        changed += moved
        stores.jobs.add_job_done(org_id, job.job_id, "changed" if moved else "checked")
    stores.jobs.finish_job(org_id, job.job_id, now)
    return OrgReconciled(org_id=org_id, job_id=job.job_id, checked=len(due), changed=changed, failed=failed)


def _due_letters(letters: Letters, org_id: str, moment: datetime, hours: dict[str, int], batch: int) -> list[Letter]:
    """Up to `batch` letters at a provider whose status has not moved for longer than that provider's `hours`."""
    earliest = _iso(moment - timedelta(hours=min(hours.values())))
    stuck: list[Letter] = []
    for status in IN_FLIGHT:
        stuck += letters.stuck_in(org_id, status.value, since_before=earliest, limit=batch)
    return [
        letter
        for letter in stuck[:batch]
        if letter.provider_letter_id
        and letter.updated_at < _iso(moment - timedelta(hours=hours.get(letter.provider, max(hours.values()))))
    ]


def _reconcile_letter(
    stores: Stores, letters: Letters, events: Publisher, adapter: PostalProvider, letter: Letter, now: str
) -> int:
    assert letter.provider_letter_id is not None
    current = adapter.get(letter.provider_letter_id)
    if current.status is None or current.status is letter.status:
        return 0
    event = WebhookEvent(
        provider=adapter.name,
        event_id=f"{SOURCE}:{letter.letter_id}:{current.raw_status}",
        provider_letter_id=letter.provider_letter_id,
        letter_id=letter.letter_id,
        status=current.status,
        raw_status=current.raw_status,
        occurred_at=_parse(now),
        reason=f"read back from {adapter.name} by the letter reconciliation",
        details={"source": SOURCE},
    )
    return apply_event(stores, letters, events, letter.org_id, event, now)

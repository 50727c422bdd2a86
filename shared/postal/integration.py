"""The postal integration lifecycle (PRODUCT.md §2.1, §2.3): connect gating, preview, impact, disconnect."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from postal.clock import new_id
from postal.documents.zones import zone_for
from postal.errors import Conflict, ValidationFailed
from postal.letters import UNSUBMITTED
from postal.models import (
    AddressPosition,
    Channel,
    IntegrationStatus,
    Job,
    JobStatus,
    Layout,
    PostalIntegration,
    ProviderName,
    Strict,
    Template,
)
from postal.ports import SecretWriter, Sender, Stores


class BannerEntry(BaseModel):
    """One template that blocks connecting, what is wrong and exactly how to fix it."""

    template_id: str
    code: str
    message: str
    fix: str
    problems: list[dict[str, Any]] = Field(default_factory=list)


class ConnectIn(Strict):
    provider: ProviderName
    credentials: dict[str, Any] = Field(default_factory=dict)
    confirm: bool = False


class IntegrationView(BaseModel):
    org_id: str
    status: IntegrationStatus
    provider: ProviderName | None
    connected_at: str | None
    disconnected_at: str | None
    last_job_id: str | None
    banner: list[BannerEntry]


class WebhookSetup(BaseModel):
    """What to configure at the provider so that its status callbacks reach us (shown once, in the connect answer)."""

    url: str | None = Field(description="The exact webhook URL to configure; None when the service has no public URL")
    signing_secret: str | None = Field(
        default=None, description="The secret the provider signs callbacks with (Pingen signing_key, PostGrid secret)"
    )
    how: str


class ConnectedView(IntegrationView):
    webhook: WebhookSetup


class ConnectPreview(BaseModel):
    org_id: str
    provider: ProviderName
    status: IntegrationStatus
    compatible: bool
    banner: list[BannerEntry]
    changes: list[str]


class Impact(BaseModel):
    """What a disconnect would change, counted before doing it."""

    customers_with_post: int = Field(description="Customers whose preference is post (reset to the template default)")
    customers_with_paper_invoice: int = Field(description="Customers who get paper invoices (switched off)")
    customers_to_reset: int = Field(description="Customers with either postal preference, each counted once")
    templates_with_post: list[str]
    steps_with_post: list[int]
    letters_in_flight: int


class CascadeMessage(BaseModel):
    org_id: str
    job_id: str
    # True once the cascade has waited out GSI propagation after finding nothing left (cascade.run_page).
    settled: bool = False


def _fmt(mm: float) -> str:
    return f"{mm:g}"


def template_problems(template: Template, provider: ProviderName) -> list[BannerEntry]:
    """Why this template blocks the postal integration for `provider` (empty when it does not)."""
    entries: list[BannerEntry] = []
    if template.address_position == AddressPosition.CUSTOM:
        entries.append(_custom_position_problem(template, provider))
    if template.layout == Layout.CUSTOM:
        problem = _custom_layout_problem(template, provider)
        if problem is not None:
            entries.append(problem)
    return entries


def _custom_position_problem(template: Template, provider: ProviderName) -> BannerEntry:
    """An address block at custom coordinates, which no provider's window reads."""
    window = zone_for(provider.value, "left").address
    box = template.custom_address_box
    where = (
        f"the address block starts at {_fmt(box.y_mm)} mm from the top and {_fmt(box.x_mm)} mm from the left"
        if box
        else "the address block has custom coordinates"
    )
    return BannerEntry(
        template_id=template.template_id,
        code="custom_address_position",
        message=f"{where}; the window needs {_fmt(window.y0)}-{_fmt(window.y1)} mm from the top and "
        f"{_fmt(window.x0)}-{_fmt(window.x1)} mm from the left",
        fix="set the template's address position to 'left' or 'right' (the standard window)",
    )


def _custom_layout_problem(template: Template, provider: ProviderName) -> BannerEntry | None:
    """A custom-layout template's PDF: missing, not checked (for these bytes and this provider's window), or
    failed its check; None when it passed."""
    tid = template.template_id
    position = "right" if template.address_position == AddressPosition.RIGHT else "left"
    zone = zone_for(provider.value, position)
    pdf, check = template.custom_pdf, template.check
    if pdf is None:
        return BannerEntry(
            template_id=tid,
            code="custom_template_missing_pdf",
            message="the template uses a custom layout but no PDF was uploaded",
            fix="upload the template PDF (POST .../pdf), run the check, or switch the layout to 'standard'",
        )
    if check is None or check.pdf_sha256 != pdf.sha256 or check.zone_id != zone.id:
        return BannerEntry(
            template_id=tid,
            code="custom_template_unchecked",
            message=f"the custom PDF has not passed the compatibility check for the {zone.id} window",
            fix="run the compatibility check for this provider "
            f'(POST .../check with {{"provider": "{provider.value}"}}) and fix what it reports',
        )
    if not check.ok:
        first = check.problems[0] if check.problems else {}
        return BannerEntry(
            template_id=tid,
            code="custom_template_incompatible",
            message=str(first.get("message") or "the custom PDF failed the compatibility check"),
            fix=str(first.get("fix") or "fix the problems the check reports, upload again and re-check"),
            problems=check.problems,
        )
    return None


def banner(templates: list[Template], provider: ProviderName) -> list[BannerEntry]:
    return [entry for t in templates for entry in template_problems(t, provider)]


def view(stores: Stores, org_id: str) -> IntegrationView:
    integration = stores.integrations.get_integration(org_id)
    provider = integration.provider or ProviderName.PINGEN
    return IntegrationView(
        org_id=org_id,
        status=integration.status,
        provider=integration.provider,
        connected_at=integration.connected_at,
        disconnected_at=integration.disconnected_at,
        last_job_id=integration.last_job_id,
        banner=banner(stores.templates.list_templates(org_id), provider),
    )


# Providers that print real mail; `sandbox` only simulates one and is refused in production.
REAL_PROVIDERS = tuple(p.value for p in ProviderName if p is not ProviderName.SANDBOX)
WEBHOOK_HOW = {
    ProviderName.PINGEN: "Create one Pingen webhook per event category (issues, sent, undeliverable, delivered) with "
    "this url and signing_secret as its signing_key.",
    ProviderName.POSTGRID: "Create a PostGrid webhook for the letter events with this url and signing_secret as its "
    "secret; either payload format (jwt or json) is accepted.",
    ProviderName.MYSENDINGBOX: "Set this url (it carries its own credentials) as the MySendingBox webhook; keep it "
    "secret, it is the only thing that authenticates MySendingBox's unsigned callbacks.",
    ProviderName.GENERIC: "Your API signs its callbacks to this url with Postal-Signature and the shared secret.",
    ProviderName.SANDBOX: "Nothing to configure: the sandbox calls this url itself.",
}


def webhook_setup(provider: ProviderName, url: str | None, signing_key: str) -> WebhookSetup:
    if provider is ProviderName.MYSENDINGBOX:
        from postal.providers.mysendingbox import webhook_url_with_token  # the adapter (and httpx) only here

        return WebhookSetup(url=webhook_url_with_token(url, signing_key) if url else None, how=WEBHOOK_HOW[provider])
    secret = None if provider in (ProviderName.GENERIC, ProviderName.SANDBOX) else signing_key
    return WebhookSetup(url=url, signing_secret=secret, how=WEBHOOK_HOW[provider])


def connect(
    stores: Stores,
    secret_store: SecretWriter,
    validate_credentials: Callable[[str, dict[str, Any]], dict[str, Any]],
    org_id: str,
    body: ConnectIn,
    now: str,
    *,
    stage: str = "dev",
    webhook_url: Callable[[str], str | None] = lambda provider: None,  # noqa: ARG005
) -> ConnectPreview | ConnectedView:
    """`confirm=false`: a preview that changes nothing. `confirm=true`: activate, or 409 with the banner; the answer
    says what to configure at the provider for its callbacks (`webhook`)."""
    integration = _connectable(stores, org_id, body.provider, stage)
    credentials = validate_credentials(body.provider.value, body.credentials)
    blocking = banner(stores.templates.list_templates(org_id), body.provider)
    if not body.confirm:
        return ConnectPreview(
            org_id=org_id,
            provider=body.provider,
            status=integration.status,
            compatible=not blocking,
            banner=blocking,
            changes=[
                "post becomes available as a template default, a customer preference and a collection step action",
                "nothing is sent by post until you set post somewhere or send a letter",
                f"letters are printed and mailed by {body.provider.value}",
            ],
        )
    if blocking:
        raise Conflict(
            "connect is refused while templates are incompatible with postal sending",
            code="templates_block_connect",
            details={"banner": [b.model_dump() for b in blocking]},
            fix="adjust each template as the banner says, then connect again",
        )
    signing_key = _activate(stores, secret_store, org_id, integration, body.provider, credentials, now)
    return ConnectedView(
        **view(stores, org_id).model_dump(),
        webhook=webhook_setup(body.provider, webhook_url(body.provider.value), signing_key),
    )


def _connectable(stores: Stores, org_id: str, provider: ProviderName, stage: str) -> PostalIntegration:
    """The integration, when `provider` may be connected now: not the sandbox in production, not while connected,
    not while the previous disconnect is still being applied (409/422 otherwise)."""
    if stage == "prod" and provider is ProviderName.SANDBOX:
        raise ValidationFailed(
            "the sandbox provider prints nothing and cannot be connected in production",
            code="provider_not_allowed",
            details={"field": "provider", "allowed": list(REAL_PROVIDERS)},
            fix=f"connect one of the real providers: {', '.join(REAL_PROVIDERS)}",
        )
    integration = stores.integrations.get_integration(org_id, consistent=True)
    if integration.status == IntegrationStatus.CONNECTED:
        raise Conflict(
            f"the postal integration is already connected to {integration.provider}",
            code="already_connected",
            fix="disconnect first to change provider",
        )
    running = stores.jobs.running_job(org_id, integration.last_job_id)
    if running:
        raise Conflict(
            "the previous disconnect is still being applied",
            code="disconnect_in_progress",
            details={"job_id": running.job_id, "done": running.done, "total": running.total},
            fix="wait until the disconnect job completes, then connect",
        )
    return integration


def _activate(
    stores: Stores,
    secret_store: SecretWriter,
    org_id: str,
    integration: PostalIntegration,
    provider: ProviderName,
    credentials: dict[str, Any],
    now: str,
) -> str:
    """Store the connection's secret (a new generation) and flip the integration to connected; the webhook
    signing key."""
    signing_key = secrets.token_hex(16)
    secret_ref = secret_store.put_integration_secret(
        org_id,
        {
            "provider": provider.value,
            "credentials": credentials,
            # Providers sign their callbacks with this key (Pingen caps it at 32 characters); MySendingBox, which
            # signs nothing, gets it as the password of the webhook URL.
            "webhook_signing_key": signing_key,
        },
        connection=integration.generation + 1,
    )
    past = [integration.secret_ref] if integration.secret_ref else []
    connected = integration.model_copy(
        update={
            "status": IntegrationStatus.CONNECTED,
            "provider": provider,
            "connected_at": now,
            "secret_ref": secret_ref,
            "past_secret_refs": [r for r in past + integration.past_secret_refs if r != secret_ref][:20],
            "generation": integration.generation + 1,
        }
    )
    stores.integrations.connect(connected, expected_generation=integration.generation)
    return signing_key


def impact(stores: Stores, org_id: str) -> Impact:
    steps, _ = stores.collection.get_steps(org_id)
    post, paper = stores.customers.count_postal_preferences(org_id)
    return Impact(
        customers_with_post=post,
        customers_with_paper_invoice=paper,
        customers_to_reset=stores.customers.count_post_customers(org_id),
        templates_with_post=[
            t.template_id for t in stores.templates.list_templates(org_id) if t.default_channel == Channel.POST
        ],
        steps_with_post=[i for i, s in enumerate(steps) if s.action == "post"],
        letters_in_flight=sum(stores.letters.count_letters(org_id, s.value) for s in UNSUBMITTED),
    )


def disconnect(stores: Stores, queue: Sender, org_id: str, now: str) -> Job:
    """Flip to disconnected atomically (nothing new goes out from this moment), then cascade through SQS."""
    job = Job(job_id=new_id("job"), org_id=org_id, kind="disconnect_cascade", status=JobStatus.RUNNING, started_at=now)
    stores.integrations.disconnect(org_id, job, at=now)
    queue.send(CascadeMessage(org_id=org_id, job_id=job.job_id))
    return job


def get_job(stores: Stores, org_id: str, job_id: str) -> Job:
    """A job of the org (a disconnect cascade, a nightly run), with its progress."""
    return stores.jobs.get_job(org_id, job_id)

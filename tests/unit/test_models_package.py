"""`postal.models` is a package by aggregate (issue 12); every status is an enum, and the old imports still work."""

from __future__ import annotations

import pytest

import postal.models as models
from postal.models import CascadePhase, JobKind, JobStatus, StepOutcome, StepRunStatus, Task, TaskStatus

# Every public name `postal/models.py` exported before the split.
BEFORE_THE_SPLIT = (
    "Address",
    "AddressPosition",
    "AddressState",
    "Amount",
    "Branding",
    "BusinessDate",
    "Channel",
    "CollectionStep",
    "CollectionStepsIn",
    "CountryCode",
    "CurrencyCode",
    "CustomAddressBox",
    "CustomPdf",
    "Customer",
    "CustomerIn",
    "Email",
    "Identifier",
    "Instalment",
    "IntegrationStatus",
    "Invoice",
    "InvoiceIn",
    "InvoiceLine",
    "InvoiceRecord",
    "InvoiceStatus",
    "Job",
    "JobFailure",
    "JobStatus",
    "Language",
    "Layout",
    "LetterStatus",
    "MAX_AMOUNT",
    "MAX_LOGO_PIXELS",
    "Millimetres",
    "Money",
    "Org",
    "OrgIn",
    "OrgName",
    "OrgPatch",
    "PaperInvoiceMode",
    "PartialAddress",
    "Phone",
    "Postage",
    "PostalIntegration",
    "ProviderName",
    "RETURNED_MAIL_FALLBACK_DOC",
    "ReturnedMailFallback",
    "SignedAmount",
    "StepAction",
    "Strict",
    "Task",
    "TaskKind",
    "TaskQuery",
    "TaskStatus",
    "Template",
    "TemplateCheck",
    "TemplateIn",
    "TemplateKind",
    "VatNumber",
    "fraction_digits",
    "is_country",
    "require_currency_digits",
)


@pytest.mark.parametrize("name", BEFORE_THE_SPLIT)
def test_every_name_is_still_importable_from_postal_models(name: str) -> None:
    assert name in models.__all__
    assert getattr(models, name) is not None


def test_no_model_module_is_a_god_module() -> None:
    modules = {
        getattr(models, name).__module__ for name in models.__all__ if hasattr(getattr(models, name), "__module__")
    }
    assert {m for m in modules if m.startswith("postal.models.")} >= {
        "postal.models.common",
        "postal.models.orgs",
        "postal.models.invoices",
        "postal.models.jobs",
        "postal.models.tasks",
    }


def test_a_stored_task_status_is_an_enum() -> None:
    task = Task.model_validate(
        {"task_id": "t1", "org_id": "o1", "kind": "fix_address", "status": "done", "created_at": "2026-12-02"}
    )
    assert task.status is TaskStatus.DONE
    assert Task.model_validate({**task.model_dump(), "status": "open"}).status is TaskStatus.OPEN
    with pytest.raises(ValueError, match="status"):
        Task.model_validate({**task.model_dump(), "status": "claimed"})


def test_the_status_enums_have_the_stored_values() -> None:
    assert [s.value for s in StepRunStatus] == ["claimed", "done", "gave_up"]
    assert [s.value for s in StepOutcome] == ["ran", "skipped", "failed"]
    assert [s.value for s in JobStatus] == ["running", "completed", "failed"]
    assert {k.value for k in JobKind} == {
        "disconnect_cascade",
        "nightly_collection",
        "nightly_reconciliation",
        "nightly_run",
        "letter_reconciliation",
    }
    assert CascadePhase.DONE == "done"

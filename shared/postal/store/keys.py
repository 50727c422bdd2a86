"""The one DynamoDB key scheme (docs/data-model.md explains every access pattern)."""

from __future__ import annotations


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


ORG_SK = "ORG"
INTEGRATION_SK = "INTEGRATION#postal"
API_KEY_SK = "APIKEY"  # under `api_key_pk`: the key's org
ORG_API_KEY_SK = "APIKEY"  # in the org's partition: the hash of its current key (to revoke it on rotation)
STEPS_SK = "STEPS"
TTL_ATTRIBUTE = "expires_at"  # the table's TimeToLiveSpecification (template.yaml)


def api_key_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


def template_sk(template_id: str) -> str:
    return f"TEMPLATE#{template_id}"


def customer_sk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def invoice_sk(invoice_id: str) -> str:
    return f"INVOICE#{invoice_id}"


def job_sk(job_id: str) -> str:
    return f"JOB#{job_id}"


def task_sk(task_id: str) -> str:
    return f"TASK#{task_id}"


def letter_sk(letter_id: str) -> str:
    return f"LETTER#{letter_id}"


# GSI1 (ALL): sparse "customers whose preference is post", per org; letters by customer.
def post_customers_gsi1(org_id: str) -> str:
    return f"ORG#{org_id}#PREF#post"


def letters_by_customer_gsi1(org_id: str, customer_id: str) -> str:
    return f"ORG#{org_id}#CUSTOMER#{customer_id}"


def open_invoices_gsi1(org_id: str) -> str:
    """Every open invoice (sparse): what a change of the collection steps re-indexes."""
    return f"ORG#{org_id}#INVOICES#open"


# GSI2 (ALL): letters by status, invoices due, open tasks; all per org.
def letters_by_status_gsi2(org_id: str, status: str) -> str:
    return f"ORG#{org_id}#LETTERS#{status}"


def invoices_due_gsi2(org_id: str) -> str:
    return f"ORG#{org_id}#DUE"


def tasks_gsi2(org_id: str, status: str) -> str:
    """Tasks by status (`open`, `done`), oldest first by creation."""
    return f"ORG#{org_id}#TASKS#{status}"


def step_run_sk(invoice_id: str, step_id: str) -> str:
    """One run of one step (by its id, which survives edits of the sequence) for one invoice."""
    return f"RUN#{invoice_id}#{step_id}"


def pending_runs_gsi2(org_id: str) -> str:
    """Step runs claimed but not finished (sparse): what nightly-reconciliation retries."""
    return f"ORG#{org_id}#RUNS#pending"


# GSI3 (KEYS_ONLY): provider letter id -> our letter; every org (nightly fan-out).
def provider_letter_gsi3(provider: str, provider_letter_id: str) -> str:
    return f"PROVIDER#{provider}#{provider_letter_id}"


ALL_ORGS_GSI3 = "ORGS"

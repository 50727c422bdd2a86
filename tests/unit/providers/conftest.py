"""Shared fixtures for adapter tests: stamina without sleeping (3 attempts), a sample submission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina

from postal.models import Address, Postage
from postal.providers.base import LetterSubmission

PDF = b"%PDF-1.7\n% test letter\n%%EOF\n"


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    # Keep the production attempt budget (3) but skip the backoff sleeps.
    with stamina.set_testing(True, attempts=3):
        yield


def submission(**overrides: object) -> LetterSubmission:
    """A valid letter to Switzerland; override any field."""
    recipient = Address(
        name="Anna Muster", lines=["Bahnhofstrasse 12"], postal_code="8001", city="Zürich", country="CH"
    )
    values: dict[str, object] = {
        "letter_id": "let_000001",
        "org_id": "org_1",
        "pdf": PDF,
        "file_name": "invoice-1.pdf",
        "recipient": recipient,
        "postage": Postage.PRIORITY,
        "page_count": 2,
        "sender": Address(name="ACME AG", lines=["Hauptstrasse 1"], postal_code="3000", city="Bern", country="CH"),
    }
    values.update(overrides)
    return LetterSubmission.model_validate(values)

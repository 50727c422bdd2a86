"""The one error catalogue and the one HTTP mapping (issue 12 step 5)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from postal import errors
from postal.api.errors import STATUS, status_for, validation_details
from postal.codes import CANONICAL, FIXES, PROVIDER_CODES, Code, fix_for

SHARED = Path(__file__).resolve().parents[2] / "shared"
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
_EMITTERS = {"_proxy_error", "error_response"}


def _code_literals() -> set[tuple[str, str]]:
    """(file, code) for every `code="..."` keyword, `code = "..."` class attribute and error-response literal."""
    found = set()
    for path in [*SHARED.rglob("*.py"), *FUNCTIONS.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                values += [k.value for k in node.keywords if k.arg == "code"]
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in _EMITTERS and len(node.args) > 1:
                    values.append(node.args[1])
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "code" for t in node.targets):
                values.append(node.value)
            found |= {(path.name, v.value) for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return found


def test_every_code_the_service_emits_is_in_the_catalogue() -> None:
    literals = _code_literals()
    assert len(literals) > 50  # the walk finds them
    missing = sorted((where, code) for where, code in literals if code not in Code._value2member_map_)
    assert not missing, missing


def test_one_code_for_a_missing_address() -> None:
    assert "missing_billing_address" not in Code._value2member_map_
    assert Code.MISSING_ADDRESS_FIELDS in PROVIDER_CODES


@pytest.mark.parametrize("code", sorted(CANONICAL))
def test_every_canonical_letter_code_has_a_fix_naming_the_provider_when_given(code: Code) -> None:
    fix = fix_for(code, "Pingen")
    assert fix and fix[0].isupper() and "{provider}" not in fix
    if "{provider}" in FIXES[code]:
        assert "Pingen" in fix


def test_an_unknown_code_gets_the_rejected_fix() -> None:
    assert fix_for("no_such_code") == fix_for(Code.REJECTED_BY_PROVIDER)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.BadRequest("x"), 400),
        (errors.Unauthorized("x"), 401),
        (errors.Forbidden("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.Conflict("x"), 409),
        (errors.PreconditionFailed("x"), 409),
        (errors.InvalidTransition("x"), 409),
        (errors.PayloadTooLarge("x"), 413),
        (errors.UnsupportedMediaType("x"), 415),
        (errors.ValidationFailed("x"), 422),
        (errors.TooManyRequests("x"), 429),
        (errors.ProviderUnavailable("x"), 503),
    ],
)
def test_each_domain_error_has_one_status(error: errors.DomainError, status: int) -> None:
    assert status_for(error) == status


def test_domain_errors_carry_no_http_status() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.DomainError)]
    assert classes and all("http_status" not in vars(c) for c in classes)
    assert errors.DomainError in STATUS


def test_a_subclass_takes_its_bases_status() -> None:
    class NotConnectedHere(errors.Conflict):
        code = "integration_not_connected"

    assert status_for(NotConnectedHere("x")) == 409


class _Body(BaseModel):
    name: str
    count: int


def test_validation_details_name_the_field_message_and_type() -> None:
    with pytest.raises(ValidationError) as info:
        _Body.model_validate({"count": "many"})
    details = validation_details(info.value.errors())
    assert details == [
        {"field": "name", "message": "Field required", "type": "missing"},
        {"field": "count", "message": details[1]["message"], "type": "int_parsing"},
    ]
    request_style = validation_details([{"loc": ("body", "recipient", "name"), "msg": "m", "type": "t"}])
    assert request_style == [{"field": "recipient.name", "message": "m", "type": "t"}]
    assert validation_details([{"loc": (), "msg": "m", "type": "t"}], root="credentials")[0]["field"] == "credentials"

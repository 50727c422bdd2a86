"""The configuration is the functions' environment, validated once; a missing or bad variable fails at cold start."""

from __future__ import annotations

import pytest

from postal.config import Config, ConfigError

ENV = {
    "TABLE_NAME": "t",
    "IDEMPOTENCY_TABLE_NAME": "i",
    "DOCUMENTS_BUCKET": "b",
    "DISPATCH_QUEUE_URL": "https://sqs/d",
    "CASCADE_QUEUE_URL": "https://sqs/c",
    "EVENT_BUS_NAME": "bus",
    "SECRETS_PREFIX": "stack/orgs/",
    "ADMIN_KEY_SECRET_ID": "arn:secret",
}


def test_settings_read_the_template_environment() -> None:
    settings = Config.from_env({**ENV, "CASCADE_PAGE_SIZE": "200", "UNRELATED": "x"})
    assert settings.table_name == "t"
    assert settings.cascade_page_size == 200
    assert settings.pingen_api_url == "https://api-staging.pingen.com"  # staging unless configured


@pytest.mark.parametrize("missing", sorted(ENV))
def test_a_missing_variable_fails_naming_it(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Config.from_env(env)


@pytest.mark.parametrize(("name", "value"), [("CASCADE_PAGE_SIZE", "0"), ("PRESIGN_SECONDS", "99999")])
def test_out_of_range_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({**ENV, name: value})


def test_a_value_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ConfigError, match="RECONCILE_BATCH"):
        Config.from_env({**ENV, "RECONCILE_BATCH": "many"})


def test_settings_are_frozen() -> None:
    settings = Config.from_env(ENV)
    with pytest.raises(AttributeError):
        settings.table_name = "other"  # type: ignore[misc]


def test_every_variable_the_template_sets_is_known_to_settings() -> None:
    from local.cfn import Template, load_template

    template_vars = set(Template(load_template()).globals_environment())
    known = Config.aliases()
    powertools = {v for v in template_vars if v.startswith("POWERTOOLS_")}
    assert template_vars - powertools - {"STAGE"} <= known, template_vars - known

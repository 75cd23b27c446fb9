"""Phone numbers and e-mail addresses as billing sends them, checked and written one way on the way in: a phone in
E.164 with its line type (national formats read in the account's country), an e-mail address in its normal form.

Only where input enters (`client`): a stored document is never checked again, so a replay cannot fail on a rule
tightened later. Messages name the field, never the value (numbers and addresses are personal data).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import get_args

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from dunning.account import PHONE_KINDS, AccountDocument, ContactPoint, LineType

LINE_TYPES: dict[int, LineType] = {getattr(PhoneNumberType, name.upper()): name for name in get_args(LineType)}


class ContactPointError(ValueError):
    """Contact points (or the country they are read in) that cannot be used; the message names each field."""


@cache
def _zone_countries() -> dict[str, str]:
    """Time zone to ISO 3166 country, from the pinned tzdata's zone.tab, with the zones' other names (its links)."""
    tables = resources.files("tzdata.zoneinfo")
    countries: dict[str, str] = {}
    for line in tables.joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            country, _, zone, *_ = line.split("\t")
            countries[zone] = country
    for line in tables.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()
            if alias not in countries and target in countries:
                countries[alias] = countries[target]
    return countries


@cache
def _iso_countries() -> frozenset[str]:
    text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    return frozenset(line.split("\t")[0] for line in text.splitlines() if line and not line.startswith("#"))


def country_of_zone(zone: str) -> str | None:
    """The country of an IANA time zone (Asia/Shanghai: CN); None for zones of no country, such as UTC."""
    return _zone_countries().get(zone)


def country_of(document: AccountDocument) -> str | None:
    """The country its national phone numbers are read in: the one it names, or its time zone's."""
    return document.country or country_of_zone(document.time_zone)


def needs_country(point: ContactPoint) -> bool:
    """A phone number written without its country code can be read only in the account's country."""
    return point.kind in PHONE_KINDS and not point.value.startswith("+")


def checked_phone(value: str, country: str | None) -> tuple[str, LineType]:
    """The number in E.164 and its line type; ValueError saying what is wrong (without the number)."""
    try:
        number = phonenumbers.parse(value, country)
    except NumberParseException as err:
        if err.error_type != NumberParseException.INVALID_COUNTRY_CODE:
            raise ValueError("not a phone number") from None
        if value.startswith("+"):
            raise ValueError("its country code is not one in use") from None
        if country is None:
            raise ValueError(
                "a national number, and the account's country is not known: write it with + and its country code, "
                "or name the account's country"
            ) from None
        raise ValueError(f"a national number, and {country} has no numbering plan to read it by") from None
    if not phonenumbers.is_valid_number(number):
        code = number.country_code or 0
        # Named by the account's country when it was read there (+1 is also Canada's), else by the code's main one.
        plan = country if country and phonenumbers.country_code_for_region(country) == code else None
        raise ValueError(f"not a valid phone number for {plan or phonenumbers.region_code_for_country_code(code)}")
    if number.extension:
        raise ValueError("has an extension, which can be neither texted nor dialled")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, LINE_TYPES.get(phonenumbers.number_type(number), "unknown")


def checked_email(value: str) -> str:
    """The address in its normal form (the domain in lower case); its syntax and the form of its domain checked,
    with no look-up on the network."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise ValueError(f"not a valid e-mail address: {err}") from None


def checked_point(point: ContactPoint, country: str | None) -> ContactPoint:
    """The point as it is kept: a phone in E.164 with its line type, an e-mail address normalised; ValueError if it
    cannot be (its message names no field)."""
    if point.kind in PHONE_KINDS:
        value, line_type = checked_phone(point.value, country)
        return point.model_copy(update={"value": value, "line_type": line_type})
    if point.kind == "email":
        return point.model_copy(update={"value": checked_email(point.value)})
    return point


def checked_document(document: AccountDocument, names: Sequence[str] | None = None) -> AccountDocument:
    """The document with its country named (defaulted from its time zone) and its points checked; a
    ContactPointError naming every field that is wrong. `names`: the points' field names (by default
    contact_points.N.value; a CSV row names its columns)."""
    if document.country is not None and document.country not in _iso_countries():
        raise ContactPointError(
            f"country: unknown country {document.country!r} (an ISO 3166-1 alpha-2 code such as CN)"
        )
    country = country_of(document)
    problems = []
    points = []
    for index, point in enumerate(document.contact_points):
        try:
            points.append(checked_point(point, country))
        except ValueError as err:
            problems.append(f"{names[index] if names else f'contact_points.{index}.value'}: {err}")
    if problems:
        raise ContactPointError("; ".join(problems))
    # Validated again: a check of the whole (the account id is not a phone number) sees the numbers as written now.
    return AccountDocument.model_validate(
        {**document.model_dump(), "country": country, "contact_points": [p.model_dump() for p in points]}
    )

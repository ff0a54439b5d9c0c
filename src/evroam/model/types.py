"""Shared pieces of the domain model beyond `common.py`: identifier and code types used by
several modules, the enums more than one module needs (TokenType, ProfileType), and the
case-insensitive comparison CiString identifiers call for."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "NOT_AVAILABLE",
    "CountryCode",
    "Country3",
    "Currency",
    "LanguageCode",
    "PartyId",
    "ProfileType",
    "TimeOfDay",
    "TimeZoneName",
    "TokenType",
    "ci_equal",
    "fail_at",
    "zone_info",
]

#: Placeholder a required string may carry when the value truly cannot be known (2.2+).
NOT_AVAILABLE = "#NA"

# ISO 3166-1 alpha-2 code of the party owning an object (CiString(2), so either case).
CountryCode = Annotated[str, Field(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$")]

# Party id following ISO 15118: three alphanumeric characters (CiString(3)).
PartyId = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Za-z0-9]{3}$")]

# ISO 3166-1 alpha-3 code of the country a Location lies in (string(3)).
Country3 = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]

# ISO 4217 currency code (string(3)).
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]

# ISO 639-1 language code (string(2)).
LanguageCode = Annotated[str, Field(min_length=2, max_length=2)]

# Local time of day "HH:MM", 24h with leading zeros (2.2.1 regex).
TimeOfDay = Annotated[str, Field(max_length=5, pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]


@lru_cache(maxsize=1024)
def zone_info(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA tzdata name; ValueError with a readable message when unknown."""
    if not name or name != name.strip():
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Europe/Brussels)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Europe/Brussels)") from None


def _check_time_zone(name: str) -> str:
    zone_info(name)
    return name


# IANA tzdata name such as "Europe/Oslo" (string(255)), checked against the tz database.
TimeZoneName = Annotated[str, Field(max_length=255), AfterValidator(_check_time_zone)]


def ci_equal(a: str | None, b: str | None) -> bool:
    """Compare two CiString values the way OCPI defines them: case-insensitively."""
    if a is None or b is None:
        return a is b
    return a.casefold() == b.casefold()


def fail_at(title: str, problems: list[tuple[tuple[str | int, ...], str, Any]]) -> NoReturn:
    """Raise, from inside a validator, one error per (location, message, input), each at its
    own location relative to the value being validated (e.g. `(1, "uid")` in a list), so
    `field_errors()` names the exact field (`evses[1].uid: ...`)."""
    raise ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
            for loc, message, value in problems
        ],
    )


class TokenType(StrEnum):
    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    EMAID = "EMAID"  # OCPI 2.3.0: an ISO 15118 Plug & Charge contract (uid = the EMAID)
    OTHER = "OTHER"
    RFID = "RFID"


class ProfileType(StrEnum):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"

"""Smart charging (OCPI 2.2.1 `chargingprofiles` module shape): charging profiles, the
synchronous ChargingProfileResponse and the asynchronous results posted to `response_url`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from evroam.model.common import URL, DateTime, OcpiModel

__all__ = [
    "ActiveChargingProfile",
    "ActiveChargingProfileResult",
    "ChargingProfile",
    "ChargingProfilePeriod",
    "ChargingProfileResponse",
    "ChargingProfileResponseType",
    "ChargingProfileResult",
    "ChargingProfileResultType",
    "ChargingRateUnit",
    "ClearProfileResult",
    "SetChargingProfile",
]


class ChargingRateUnit(StrEnum):
    W = "W"
    A = "A"


class ChargingProfileResponseType(StrEnum):
    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


def _one_decimal(value: float) -> float:
    if round(value, 1) != value:
        raise ValueError(f"{value} has more than one decimal (the spec allows e.g. 8.1)")
    return value


# A rate in the profile's unit (W or A): not negative, at most one digit after the point.
Rate = Annotated[float, Field(ge=0), AfterValidator(_one_decimal)]


class ChargingProfilePeriod(OcpiModel):
    start_period: Annotated[int, Field(ge=0)]  # seconds from the start of the profile
    limit: Rate


class ChargingProfile(OcpiModel):
    """Limits over time. Without `start_date_time` the profile is relative to the start of
    charging; without `duration` the last period lasts until the session ends."""

    start_date_time: DateTime | None = None
    duration: Annotated[int, Field(ge=0)] | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: Rate | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None

    @field_validator("charging_profile_period")
    @classmethod
    def _periods_in_order(
        cls, periods: list[ChargingProfilePeriod] | None
    ) -> list[ChargingProfilePeriod] | None:
        # Each start_period is also the end of the previous period, so they must increase.
        for before, after in zip(periods or (), (periods or [])[1:], strict=False):
            if after.start_period <= before.start_period:
                raise ValueError(
                    f"start_period values must increase ({after.start_period} follows {before.start_period})"
                )
        return periods


class ActiveChargingProfile(OcpiModel):
    """The profile the charge point computed; its periods are relative to `start_date_time`."""

    start_date_time: DateTime
    charging_profile: ChargingProfile


class SetChargingProfile(OcpiModel):
    charging_profile: ChargingProfile
    response_url: URL


class ChargingProfileResponse(OcpiModel):
    result: ChargingProfileResponseType
    timeout: Annotated[int, Field(ge=0)]


class ActiveChargingProfileResult(OcpiModel):
    """Answer to GET ActiveChargingProfile; `profile` is given when `result` is ACCEPTED."""

    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    result: ChargingProfileResultType

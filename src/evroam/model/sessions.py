"""Session (OCPI 2.2.1 shape), the charging-period classes it shares with CDRs, and
charging preferences."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from evroam.model.common import CiString, DateTime, OcpiModel, Price, String
from evroam.model.types import CountryCode, Currency, PartyId, ProfileType, TokenType, fail_at

__all__ = [
    "SESSION_ONLY_DIMENSIONS",
    "AuthMethod",
    "CdrDimension",
    "CdrDimensionType",
    "CdrToken",
    "ChargingPeriod",
    "ChargingPreferences",
    "ChargingPreferencesResponse",
    "ProfileType",
    "Session",
    "SessionStatus",
]


class AuthMethod(StrEnum):
    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class CdrDimensionType(StrEnum):
    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


#: Dimension types the specification allows in Sessions only, never in CDRs.
SESSION_ONLY_DIMENSIONS: frozenset[CdrDimensionType] = frozenset(
    {
        CdrDimensionType.CURRENT,
        CdrDimensionType.ENERGY_EXPORT,
        CdrDimensionType.ENERGY_IMPORT,
        CdrDimensionType.POWER,
        CdrDimensionType.STATE_OF_CHARGE,
    }
)


class ChargingPreferencesResponse(StrEnum):
    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class CdrToken(OcpiModel):
    """The token a session was started with; (country_code, party_id, uid) identify it."""

    country_code: CountryCode
    party_id: PartyId
    uid: CiString(36)
    type: TokenType
    contract_id: CiString(36)


class CdrDimension(OcpiModel):
    """One measured quantity of a ChargingPeriod. Units: ENERGY* kWh; *TIME hours; *CURRENT A;
    *POWER kW; STATE_OF_CHARGE percent."""

    type: CdrDimensionType
    volume: float

    @model_validator(mode="after")
    def _state_of_charge_is_a_percentage(self) -> CdrDimension:
        if self.type is CdrDimensionType.STATE_OF_CHARGE and not 0 <= self.volume <= 100:
            fail_at(
                "CdrDimension", [(("volume",), "a STATE_OF_CHARGE must be between 0 and 100", self.volume)]
            )
        return self


class ChargingPeriod(OcpiModel):
    """A period of a session with one set of prices; it ends where the next one starts."""

    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: CiString(36) | None = None


class Session(OcpiModel):
    """A charging session at a CPO. `evse_uid`/`connector_id` may be "#NA" while a
    reservation has no EVSE assigned yet."""

    country_code: CountryCode
    party_id: PartyId
    id: CiString(36)
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: float
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString(36) | None = None
    location_id: CiString(36)
    evse_uid: CiString(36)
    connector_id: CiString(36)
    meter_id: String(255) | None = None
    currency: Currency
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class ChargingPreferences(OcpiModel):
    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: float | None = None
    discharge_allowed: bool | None = None

"""Location, EVSE and Connector (OCPI 2.2.1 shape) with the classes and enums they use."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator, model_validator

from evroam.model.common import (
    URL,
    AdditionalGeoLocation,
    BusinessDetails,
    CiString,
    DateTime,
    DisplayText,
    EnergyMix,
    GeoLocation,
    Image,
    OcpiModel,
    String,
)
from evroam.model.types import (
    Country3,
    CountryCode,
    PartyId,
    TimeOfDay,
    TimeZoneName,
    TokenType,
    ci_equal,
    fail_at,
    zone_info,
)

__all__ = [
    "EVSE",
    "Capability",
    "Connector",
    "ConnectorCapability",
    "ConnectorFormat",
    "ConnectorType",
    "ExceptionalPeriod",
    "Facility",
    "Hours",
    "EVSEParking",
    "EVSEPosition",
    "Location",
    "Parking",
    "ParkingDirection",
    "ParkingRestriction",
    "ParkingType",
    "PowerType",
    "PublishTokenType",
    "RegularHours",
    "Status",
    "StatusSchedule",
    "VehicleType",
]


# --------------------------------------------------------------------------- enums


class Status(StrEnum):
    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class Capability(StrEnum):
    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CHARGING_PREFERENCES_CAPABLE = "CHARGING_PREFERENCES_CAPABLE"
    CHIP_CARD_SUPPORT = "CHIP_CARD_SUPPORT"
    CONTACTLESS_CARD_SUPPORT = "CONTACTLESS_CARD_SUPPORT"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    DEBIT_CARD_PAYABLE = "DEBIT_CARD_PAYABLE"
    PED_TERMINAL = "PED_TERMINAL"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    START_SESSION_CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
    TOKEN_GROUP_CAPABLE = "TOKEN_GROUP_CAPABLE"
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorFormat(StrEnum):
    SOCKET = "SOCKET"
    CABLE = "CABLE"


class ConnectorType(StrEnum):
    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"
    MCS = "MCS"  # OCPI 2.3.0
    SAE_J3400 = "SAE_J3400"  # OCPI 2.3.0


class ConnectorCapability(StrEnum):
    """OCPI 2.3.0: ISO 15118 Plug & Charge support of a connector."""

    ISO_15118_2_PLUG_AND_CHARGE = "ISO_15118_2_PLUG_AND_CHARGE"
    ISO_15118_20_PLUG_AND_CHARGE = "ISO_15118_20_PLUG_AND_CHARGE"


class PowerType(StrEnum):
    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class ParkingType(StrEnum):
    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class ParkingRestriction(StrEnum):
    EV_ONLY = "EV_ONLY"
    PLUGGED = "PLUGGED"
    DISABLED = "DISABLED"
    CUSTOMERS = "CUSTOMERS"
    MOTORCYCLES = "MOTORCYCLES"
    EMPLOYEES = "EMPLOYEES"  # OCPI 2.3.0
    TAXIS = "TAXIS"  # OCPI 2.3.0
    TENANTS = "TENANTS"  # OCPI 2.3.0


class VehicleType(StrEnum):
    """OCPI 2.3.0 (Parking)."""

    MOTORCYCLE = "MOTORCYCLE"
    PERSONAL_VEHICLE = "PERSONAL_VEHICLE"
    PERSONAL_VEHICLE_WITH_TRAILER = "PERSONAL_VEHICLE_WITH_TRAILER"
    VAN = "VAN"
    SEMI_TRACTOR = "SEMI_TRACTOR"
    RIGID = "RIGID"
    TRUCK_WITH_TRAILER = "TRUCK_WITH_TRAILER"
    BUS = "BUS"
    DISABLED = "DISABLED"


class ParkingDirection(StrEnum):
    PARALLEL = "PARALLEL"
    PERPENDICULAR = "PERPENDICULAR"
    ANGLE = "ANGLE"


class EVSEPosition(StrEnum):
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    CENTER = "CENTER"


class Facility(StrEnum):
    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BIKE_SHARING = "BIKE_SHARING"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAM_STOP = "TRAM_STOP"
    METRO_STATION = "METRO_STATION"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    PARKING_LOT = "PARKING_LOT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


# --------------------------------------------------------------------------- opening hours


class RegularHours(OcpiModel):
    """One weekly recurring period, in the Location's local time.

    The specification asks `period_end` to be later than `period_begin`; that order is not
    enforced, because peers publish periods that run to midnight as "00:00" and night
    periods such as 22:00-06:00. Consumers read an end at or before the begin as "the next day"."""

    weekday: Annotated[int, Field(ge=1, le=7)]  # 1 = Monday ... 7 = Sunday
    period_begin: TimeOfDay
    period_end: TimeOfDay


class ExceptionalPeriod(OcpiModel):
    period_begin: DateTime
    period_end: DateTime


class Hours(OcpiModel):
    """Opening/access hours. With `twentyfourseven` false at least one RegularHours is needed;
    with it true, `regular_hours` has no meaning (the spec reserves it for the false case)."""

    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = Field(default=None, validate_default=True)
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @field_validator("regular_hours")
    @classmethod
    def _needed_when_not_always_open(
        cls, value: list[RegularHours] | None, info: ValidationInfo
    ) -> list[RegularHours] | None:
        if info.data.get("twentyfourseven") is False and not value:
            raise ValueError("at least one entry is required when twentyfourseven is false")
        return value


# --------------------------------------------------------------------------- small classes


class StatusSchedule(OcpiModel):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class PublishTokenType(OcpiModel):
    """Identifies tokens whose owners may see an unpublished Location."""

    uid: CiString(36) | None = None
    type: TokenType | None = None
    visual_number: String(64) | None = None
    issuer: String(64) | None = None
    group_id: CiString(36) | None = None

    @model_validator(mode="after")
    def _identifies_a_token(self) -> PublishTokenType:
        if self.uid is None and self.visual_number is None and self.group_id is None:
            raise ValueError("at least one of uid, visual_number or group_id must be set")
        problems = []
        if self.uid is not None and self.type is None:
            problems.append((("type",), "required when uid is set", None))
        if self.visual_number is not None and self.issuer is None:
            problems.append((("issuer",), "required when visual_number is set", None))
        if problems:
            fail_at("PublishTokenType", problems)
        return self


class Parking(OcpiModel):
    """OCPI 2.3.0: a parking place vehicles charging at the Location can use (AFIR reporting)."""

    id: CiString(36)
    physical_reference: String(12) | None = None
    vehicle_types: Annotated[list[VehicleType], Field(min_length=1)]
    max_vehicle_weight: float | None = None
    max_vehicle_height: float | None = None
    max_vehicle_length: float | None = None
    max_vehicle_width: float | None = None
    parking_space_length: float | None = None
    parking_space_width: float | None = None
    dangerous_goods_allowed: bool | None = None
    direction: ParkingDirection | None = None
    drive_through: bool | None = None
    restricted_to_type: bool
    reservation_required: bool
    time_limit: float | None = None
    roofed: bool | None = None
    images: list[Image] | None = None
    lighting: bool | None = None
    refrigeration_outlet: bool | None = None
    standards: list[CiString(36)] | None = None
    apds_reference: CiString(255) | None = None


class EVSEParking(OcpiModel):
    """OCPI 2.3.0: a Parking place (its id in the Location) usable when charging at the EVSE."""

    parking_id: CiString(36)
    evse_position: EVSEPosition | None = None


# --------------------------------------------------------------------------- objects


def _reject_duplicates(title: str, ids: list[str], field: str, what: str) -> None:
    seen: set[str] = set()
    problems = []
    for index, value in enumerate(ids):
        key = value.casefold()
        if key in seen:
            problems.append(((index, field), f"{what} {value!r} appears more than once", value))
        seen.add(key)
    if problems:
        fail_at(title, problems)


class Connector(OcpiModel):
    id: CiString(36)
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: list[CiString(36)] | None = None
    terms_and_conditions: URL | None = None
    capabilities: list[ConnectorCapability] | None = None  # OCPI 2.3.0
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: CiString(36)
    evse_id: CiString(48) | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: String(4) | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String(16) | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    parking: list[EVSEParking] | None = None  # OCPI 2.3.0
    images: list[Image] | None = None
    accepted_service_providers: list[String(50)] | None = None  # OCPI 2.3.0
    last_updated: DateTime

    @field_validator("connectors")
    @classmethod
    def _connector_ids_unique(cls, connectors: list[Connector]) -> list[Connector]:
        _reject_duplicates("EVSE", [c.id for c in connectors], "id", "connector id")
        return connectors

    def find_connector(self, connector_id: str) -> Connector | None:
        """The Connector with this id (compared case-insensitively, as CiString), or None."""
        for connector in self.connectors:
            if ci_equal(connector.id, connector_id):
                return connector
        return None


class Location(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: CiString(36)
    publish: bool
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String(255) | None = None
    address: String(45)
    city: String(45)
    postal_code: String(10) | None = None
    state: String(20) | None = None
    country: Country3
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: ParkingType | None = None
    evses: list[EVSE] | None = None
    parking_places: list[Parking] | None = None  # OCPI 2.3.0
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: TimeZoneName
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    help_phone: CiString(25) | None = None  # OCPI 2.3.0
    last_updated: DateTime

    @field_validator("evses")
    @classmethod
    def _evse_uids_unique(cls, evses: list[EVSE] | None) -> list[EVSE] | None:
        _reject_duplicates("Location", [e.uid for e in evses or ()], "uid", "EVSE uid")
        return evses

    def find_evse(self, uid: str) -> EVSE | None:
        """The EVSE with this uid (compared case-insensitively, as CiString), or None."""
        for evse in self.evses or ():
            if ci_equal(evse.uid, uid):
                return evse
        return None

    @property
    def tzinfo(self) -> ZoneInfo:
        """The Location's time zone, for turning UTC instants into local time."""
        return zone_info(self.time_zone)

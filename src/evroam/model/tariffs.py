"""OCPI Tariff domain model (2.2.1 shape, with the optional 2.3.0 `tax_included` and
`preauthorize_amount`).

Numbers stay floats as on the wire, so `Tariff.model_validate(x).to_dict() == x` for every
tariff the specification prints. The pricing engine (`evroam.tariffs`) converts them to
`Decimal` through `str()` at its own boundary.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from evroam.model.common import URL, CiString, DateTime, DisplayText, EnergyMix, OcpiModel, Price

__all__ = [
    "DayOfWeek",
    "PriceComponent",
    "ReservationRestrictionType",
    "TariffDimensionType",
    "TariffElement",
    "TariffRestrictions",
    "TariffType",
    "TaxIncluded",
    "Tariff",
]


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TaxIncluded(StrEnum):
    """OCPI 2.3.0: whether PriceComponent.price already includes taxes."""

    YES = "YES"
    NO = "NO"
    NOT_APPLICABLE = "N/A"


# "HH:MM" local time; 2.2+ pattern. 2.1.1 allowed [0-2][0-9] hours; 24:00 is not valid in 2.2+.
TimeOfDay = Annotated[str, Field(max_length=5, pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]
# "YYYY-MM-DD" local date.
LocalDate = Annotated[str, Field(max_length=10, pattern=r"^[0-9]{4}-[0-1][0-9]-[0-3][0-9]$")]


class PriceComponent(OcpiModel):
    type: TariffDimensionType
    price: float
    vat: float | None = None
    step_size: int


class TariffRestrictions(OcpiModel):
    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: float | None = None
    max_kwh: float | None = None
    min_current: float | None = None
    max_current: float | None = None
    min_power: float | None = None
    max_power: float | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    country_code: CiString(2)
    party_id: CiString(3)
    id: CiString(36)
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    preauthorize_amount: float | None = None  # OCPI 2.3.0 (Payments)
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    tax_included: TaxIncluded | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    # Required by the specification; optional here because the spec's own PUT example leaves it
    # out and a PUT receiver sets it. `evroam tariff lint` reports it when missing.
    last_updated: DateTime | None = None

"""Charge Detail Record (OCPI 2.2.1 shape): the immutable, priced record of a finished session,
with the location snapshot and signed meter data it carries."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from evroam.model.common import CiString, DateTime, GeoLocation, OcpiModel, Price, String
from evroam.model.locations import ConnectorFormat, ConnectorType, PowerType
from evroam.model.sessions import SESSION_ONLY_DIMENSIONS, AuthMethod, CdrToken, ChargingPeriod
from evroam.model.tariffs import Tariff
from evroam.model.types import Country3, CountryCode, Currency, PartyId, fail_at

__all__ = ["CDR", "CdrLocation", "SignedData", "SignedValue"]


class CdrLocation(OcpiModel):
    """The Location, EVSE and Connector of the session as they were at its start. For a
    reservation that never became a session, evse_id/connector_id may be "#NA" and the
    connector fields carry no meaning."""

    id: CiString(36)
    name: String(255) | None = None
    address: String(45)
    city: String(45)
    postal_code: String(10) | None = None
    state: String(20) | None = None
    country: Country3
    coordinates: GeoLocation
    evse_uid: CiString(36)
    evse_id: CiString(48)
    connector_id: CiString(36)
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    nature: CiString(32)
    # 2.2.1 says string(512), but OCMF and other Eichrecht encodings routinely produce longer
    # plain data; OCPI 2.3.0 ed2 raised the limit to 5000 for that reason, and we accept the same.
    plain_data: String(5000)
    signed_data: String(5000)


class SignedData(OcpiModel):
    encoding_method: CiString(36)
    encoding_method_version: int | None = None
    public_key: String(512) | None = None
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    url: String(512) | None = None


class CDR(OcpiModel):
    """`total_energy` is in kWh, `total_time` and `total_parking_time` in hours. A Credit CDR
    (`credit` true) cancels the CDR named in `credit_reference_id`."""

    country_code: CountryCode
    party_id: PartyId
    # 39 rather than 36 so a Credit CDR can append a suffix to the original CDR's id.
    id: CiString(39)
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString(36) | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString(36) | None = None
    cdr_location: CdrLocation
    meter_id: String(255) | None = None
    currency: Currency
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: float
    total_energy_cost: Price | None = None
    total_time: float
    total_time_cost: Price | None = None
    total_parking_time: float | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String(255) | None = None
    invoice_reference_id: CiString(39) | None = None
    credit: bool | None = None
    credit_reference_id: CiString(39) | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime

    @field_validator("charging_periods")
    @classmethod
    def _no_session_only_dimensions(cls, periods: list[ChargingPeriod]) -> list[ChargingPeriod]:
        problems = [
            (
                (i, "dimensions", j, "type"),
                f"{dim.type.value} may only be used in Sessions, not in CDRs",
                dim.type.value,
            )
            for i, period in enumerate(periods)
            for j, dim in enumerate(period.dimensions)
            if dim.type in SESSION_ONLY_DIMENSIONS
        ]
        if problems:
            fail_at("CDR", problems)
        return periods

    @model_validator(mode="after")
    def _credit_names_its_original(self) -> CDR:
        if self.credit and not self.credit_reference_id:
            fail_at("CDR", [(("credit_reference_id",), "required when credit is true", None)])
        return self

"""Token (OCPI 2.2.1 shape) and the real-time authorization objects."""

from __future__ import annotations

from enum import StrEnum

from evroam.model.common import CiString, DateTime, DisplayText, OcpiModel, String
from evroam.model.types import CountryCode, LanguageCode, PartyId, ProfileType, TokenType

__all__ = [
    "AllowedType",
    "AuthorizationInfo",
    "EnergyContract",
    "LocationReferences",
    "Token",
    "TokenType",
    "WhitelistType",
]


class WhitelistType(StrEnum):
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AllowedType(StrEnum):
    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class EnergyContract(OcpiModel):
    supplier_name: String(64)
    contract_id: String(64) | None = None


class Token(OcpiModel):
    """A driver's token. Identified by (country_code, party_id, uid, type); never deleted,
    only made invalid with `valid = false`."""

    country_code: CountryCode
    party_id: PartyId
    uid: CiString(36)
    type: TokenType
    contract_id: CiString(36)
    visual_number: String(64) | None = None
    issuer: String(64)
    group_id: CiString(36) | None = None
    valid: bool
    whitelist: WhitelistType
    language: LanguageCode | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    """Where a token asks to charge (request body of real-time authorization), and in the
    answer the EVSEs it may use there."""

    location_id: CiString(36)
    evse_uids: list[CiString(36)] | None = None


class AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString(36) | None = None
    info: DisplayText | None = None

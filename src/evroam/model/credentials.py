"""Registration and discovery objects: Credentials (2.2.1 shape, with roles), the versions
list and version details, and the Hub's ClientInfo."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from evroam.model.common import URL, BusinessDetails, DateTime, OcpiModel, Role
from evroam.model.types import CountryCode, PartyId, fail_at

__all__ = [
    "ClientInfo",
    "ConnectionStatus",
    "Credentials",
    "CredentialsRole",
    "Endpoint",
    "InterfaceRole",
    "ModuleID",
    "ModuleIdentifier",
    "Version",
    "VersionDetails",
    "VersionNumber",
    "VersionString",
]


class VersionNumber(StrEnum):
    V2_0 = "2.0"
    V2_1 = "2.1"
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"
    V2_3_0 = "2.3.0"


class ModuleID(StrEnum):
    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"
    PAYMENTS = "payments"


class InterfaceRole(StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class ConnectionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


# A peer's versions list and version details may name versions and modules we don't know:
# newer versions, and custom modules with a party prefix (e.g. "nltnm-tokens") that the
# spec explicitly allows. Known values become the enum member; others stay plain strings so
# the rest of the list can still be used.
def _known_or_text(enum: type[StrEnum]) -> AfterValidator:
    def convert(value: str) -> str:
        try:
            return enum(value)
        except ValueError:
            return value

    return AfterValidator(convert)


VersionString = Annotated[str, Field(min_length=1, max_length=10), _known_or_text(VersionNumber)]
ModuleIdentifier = Annotated[str, Field(min_length=1, max_length=255), _known_or_text(ModuleID)]

# The credentials token: case-sensitive printable ASCII without spaces, at most 64 characters.
CredentialsToken = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]


class CredentialsRole(OcpiModel):
    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(OcpiModel):
    token: CredentialsToken
    url: URL
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[CredentialsRole]) -> list[CredentialsRole]:
        seen: set[tuple[str, str, str]] = set()
        problems = []
        for index, r in enumerate(roles):
            key = (r.role.value, r.country_code.upper(), r.party_id.upper())
            if key in seen:
                message = f"role {r.role.value} for {r.country_code}/{r.party_id} is listed more than once"
                problems.append(((index,), message, r.role.value))
            seen.add(key)
        if problems:
            fail_at("Credentials", problems)
        return roles


class Version(OcpiModel):
    version: VersionString
    url: URL


class Endpoint(OcpiModel):
    identifier: ModuleIdentifier
    role: InterfaceRole
    url: URL


class VersionDetails(OcpiModel):
    version: VersionString
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]

    def endpoint(self, identifier: ModuleID | str, role: InterfaceRole) -> Endpoint | None:
        """The endpoint for this module and interface role, or None when the peer offers none."""
        for ep in self.endpoints:
            if ep.identifier == identifier and ep.role == role:
                return ep
        return None


class ClientInfo(OcpiModel):
    party_id: PartyId
    country_code: CountryCode
    role: Role
    status: ConnectionStatus
    last_updated: DateTime

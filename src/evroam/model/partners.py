"""A roaming partner as evroam knows it: registration state, negotiated version, the partner's
roles (its parties) and endpoints. Secrets the partner presents to us are never held here.

A partner never acts for our own party: roles naming it (kept in `roles` as stored, e.g. by a
registration made before such claims were refused) are left out of `parties`, `owns` and
`has_role` once the store has marked our party as `reserved` (see store/partners.py).

A hub (a partner with the role HUB: 2.2.1 credentials say so, 2.3.0 ones name it in
`hub_party_id`) acts for the parties it routes for: those its credentials list and those its
ClientInfo reports (`hub_parties`, with their connection status). They count among its parties,
except one we refused it (our own, or one another partner holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class PartnerStatus(StrEnum):
    INVITED = "INVITED"  # we issued token A; the partner has not registered yet
    REGISTERED = "REGISTERED"
    UNREGISTERED = "UNREGISTERED"


@dataclass
class Partner:
    pk: int
    name: str
    status: PartnerStatus
    created_at: datetime
    updated_at: datetime
    version: str | None = None
    versions_url: str | None = None
    version_url: str | None = None
    outgoing_token: str | None = None
    outgoing_encoding: str | None = None
    roles: list[dict[str, Any]] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    last_error: str | None = None
    sync_state: dict[str, str] = field(default_factory=dict)  # module -> DateTime of the last pull
    # a hub's parties as its ClientInfo reports them: {country_code, party_id, role, status,
    # last_updated[, refused]}
    hub_parties: list[dict[str, Any]] = field(default_factory=list)
    # (country_code, party_id) upper-cased that the partner may never act for: ours
    reserved: frozenset[tuple[str, str]] = field(default_factory=frozenset, repr=False)

    @property
    def registered(self) -> bool:
        return self.status == PartnerStatus.REGISTERED

    def acting_roles(self) -> list[dict[str, Any]]:
        """The stored roles the partner may act in (a hub's routed parties included): those naming
        a reserved party left out."""
        roles = self.roles
        if self.hub_parties:
            held = {(party_of(r), r.get("role")) for r in roles}
            roles = roles + [r for r in self.hub_parties
                             if not r.get("refused") and (party_of(r), r.get("role")) not in held]
        if not self.reserved:
            return roles
        return [r for r in roles if party_of(r) not in self.reserved]

    @property
    def is_hub(self) -> bool:
        return any(r.get("role") == "HUB" for r in self.roles)

    def hub_party(self) -> tuple[str, str] | None:
        """The hub's own party (what broadcast pushes are addressed to), or None: not a hub."""
        for r in self.roles:
            if r.get("role") == "HUB":
                return r.get("country_code", ""), r.get("party_id", "")
        return None

    def party_status(self, country_code: str, party_id: str) -> str | None:
        """The connection status a hub reports for one of its parties (None: not reported)."""
        key = (country_code.upper(), party_id.upper())
        for r in self.hub_parties:
            if party_of(r) == key:
                return r.get("status")
        return None

    def claimed_reserved(self) -> list[tuple[str, str]]:
        """Reserved parties (ours) that the stored roles name nevertheless."""
        return sorted({party_of(r) for r in self.roles} & self.reserved)

    def parties(self, role: str | None = None) -> list[tuple[str, str]]:
        """(country_code, party_id) of each of the partner's roles, upper-cased."""
        return [party_of(r) for r in self.acting_roles() if role is None or r.get("role") == role]

    def owns(self, country_code: str, party_id: str, role: str | None = None) -> bool:
        return (country_code.upper(), party_id.upper()) in self.parties(role)

    def has_role(self, role: str) -> bool:
        return any(r.get("role") == role for r in self.acting_roles())

    def ptp_parties(self) -> list[tuple[str, str]]:
        """The parties the partner acts for as a Payment Terminal Provider (OCPI 2.3.0 payments
        module): those of its roles that say PTP, and, when it offers a payments Sender interface,
        those that say OTHER (the 2.3.0 Role table has no PTP; a PTP keeping to it says OTHER)."""
        out = self.parties("PTP")
        if self.endpoint("payments", "SENDER"):
            out += [p for p in self.parties("OTHER") if p not in out]
        return out

    @property
    def is_ptp(self) -> bool:
        return bool(self.ptp_parties())

    def owns_token_party(self, country_code: str, party_id: str) -> bool:
        """Whether tokens of this party are the partner's to use in commands and to receive the
        Sessions and CDRs of: its eMSP parties, and a PTP's own party (a driver paying at its
        terminal)."""
        key = (country_code.upper(), party_id.upper())
        return key in self.parties("EMSP") or key in self.ptp_parties()

    def endpoint(self, module: str, interface_role: str | None = None) -> str | None:
        """URL of the partner's `module` endpoint in the given interface role (SENDER/RECEIVER)."""
        for ep in self.endpoints:
            if ep.get("identifier") != module:
                continue
            if interface_role is None or ep.get("role") in (None, interface_role):
                return ep["url"]
        return None

    @property
    def display_parties(self) -> str:
        return ", ".join(
            f"{r.get('country_code')}/{r.get('party_id')} {r.get('role', '?')}"
            + (" (our own party: ignored)" if party_of(r) in self.reserved else "")
            for r in self.roles
        ) or "-"


def party_of(role: dict[str, Any]) -> tuple[str, str]:
    """(country_code, party_id) of a CredentialsRole, upper-cased (both are CiStrings)."""
    return str(role.get("country_code", "")).upper(), str(role.get("party_id", "")).upper()

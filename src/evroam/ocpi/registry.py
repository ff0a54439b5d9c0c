"""The OCPI versions evroam speaks: one entry per version, the only place that names them.

An entry says which module interfaces the version has, where each is served (below
`/ocpi/{version}`, the same path in every version), and which mapping turns the version's wire
format into the version-neutral model and back (`evroam.ocpi.mappings`). Routers are written once,
mounted under `/ocpi/{version}/...`, and ask the entry of the version in their path whether they
exist there (`interface`); the versions module lists the entries' endpoints; the handshake, the
outbox, pulls and real-time calls use the entry of the partner's version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from evroam.ocpi.mappings import Mapping, v2_1_1, v2_2_1, v2_3_0

if TYPE_CHECKING:
    from evroam.settings import Settings

SENDER, RECEIVER = "SENDER", "RECEIVER"


@dataclass(frozen=True)
class Interface:
    module: str  # ModuleID
    role: str  # SENDER | RECEIVER (2.1.1 says "CPO interface" / "eMSP interface")
    path: str  # below /ocpi/{version}
    needs_role: str | None  # our role that offers it (None: always)
    methods: frozenset[str] = frozenset()  # methods beyond those every version has (e.g. 2.1.1 tariff PATCH)


@dataclass(frozen=True)
class OcpiVersion:
    number: str
    interfaces: tuple[Interface, ...]
    mapping: Mapping
    endpoint_roles: bool  # version details carry an interface role per endpoint (2.2+)
    credentials_roles: bool  # credentials list roles (2.2+); 2.1.1 names one party
    routing_headers: bool  # OCPI-to/from-* headers on functional modules (2.2+)
    hubs: bool  # hubs, hubclientinfo and broadcast/open routing (2.2+)
    token_in_url_type: bool  # tokens receiver URLs take ?type= (2.2+)
    charging_preferences: bool  # PUT {sessions}/{id}/charging_preferences (2.2+)
    patch_appends_periods: bool  # a Session PATCH appends its charging_periods (2.2+; 2.1.1 replaces them)
    # how the credentials token is sent: 2.1.1 sends it as it is; 2.2+ in Base64, though many peers
    # take it as it is too (None: as the partner's versions endpoint accepted it)
    token_encoding: str | None
    # interfaces of a partner's role that we call, pushes included, where they are not the
    # module's Receiver (the payments module's Terminals go to the PTP's Sender interface)
    partner_interfaces: tuple[Interface, ...] = ()

    def interface(self, module: str, role: str) -> Interface | None:
        for i in self.interfaces:
            if i.module == module and i.role == role:
                return i
        return None

    def pushes_to(self, module: str) -> str:
        """The interface role of a partner's endpoint that our pushes of `module` go to."""
        for i in self.partner_interfaces:
            if i.module == module:
                return i.role
        return RECEIVER

    def modules(self) -> frozenset[str]:
        return frozenset(i.module for i in self.interfaces)

    def url(self, base_url: str, module: str, role: str) -> str:
        """The public URL of one of our interfaces in this version."""
        found = self.interface(module, role)
        if found is None:
            raise KeyError(f"OCPI {self.number} has no {module} {role} interface")
        return f"{base_url}/ocpi/{self.number}{found.path}"

    def endpoints(self, base_url: str, our_roles: list[str]) -> list[dict[str, str]]:
        """Endpoint objects of our version details in this version (without an interface role
        before 2.2: a partner tells ours apart by the /cpo/ or /emsp/ in their paths)."""
        out = []
        for i in self.interfaces:
            if i.needs_role is not None and i.needs_role not in our_roles:
                continue
            endpoint = {"identifier": i.module, "url": f"{base_url}/ocpi/{self.number}{i.path}"}
            if self.endpoint_roles:
                endpoint = {"identifier": i.module, "role": i.role, "url": endpoint["url"]}
            out.append(endpoint)
        return out


def _interfaces(*extra: Interface, hub: bool, profiles: bool, cancel: bool = True) -> tuple[Interface, ...]:
    base = [
        Interface("credentials", SENDER, "/credentials", None),
        Interface("locations", SENDER, "/cpo/locations", "CPO"),
        Interface("tariffs", SENDER, "/cpo/tariffs", "CPO"),
        Interface("sessions", SENDER, "/cpo/sessions", "CPO"),
        Interface("cdrs", SENDER, "/cpo/cdrs", "CPO"),
        Interface("tokens", RECEIVER, "/cpo/tokens", "CPO"),
        Interface("commands", RECEIVER, "/cpo/commands", "CPO"),
        Interface("locations", RECEIVER, "/emsp/locations", "EMSP"),
        Interface("tariffs", RECEIVER, "/emsp/tariffs", "EMSP"),
        Interface("sessions", RECEIVER, "/emsp/sessions", "EMSP"),
        Interface("cdrs", RECEIVER, "/emsp/cdrs", "EMSP"),
        Interface("tokens", SENDER, "/emsp/tokens", "EMSP"),
        Interface("commands", SENDER, "/emsp/commands", "EMSP"),  # CommandResults of the commands we send
    ]
    if profiles:
        base += [Interface("chargingprofiles", RECEIVER, "/cpo/chargingprofiles", "CPO"),
                 Interface("chargingprofiles", SENDER, "/emsp/chargingprofiles", "EMSP")]
    if hub:
        base.append(Interface("hubclientinfo", RECEIVER, "/hubclientinfo", None))
    return (*base, *extra)


V2_1_1 = OcpiVersion(
    "2.1.1",
    # 2.1.1 tariffs receivers take PATCH too
    tuple(Interface(i.module, i.role, i.path, i.needs_role, frozenset({"PATCH"}))
          if (i.module, i.role) == ("tariffs", RECEIVER) else i
          for i in _interfaces(hub=False, profiles=False)),
    v2_1_1.MAPPING, endpoint_roles=False, credentials_roles=False, routing_headers=False, hubs=False,
    token_in_url_type=False, charging_preferences=False, patch_appends_periods=False, token_encoding="plain",
)
_SINCE_2_2 = dict(endpoint_roles=True, credentials_roles=True, routing_headers=True, hubs=True,
                  token_in_url_type=True, charging_preferences=True, patch_appends_periods=True, token_encoding=None)
V2_2_1 = OcpiVersion("2.2.1", _interfaces(hub=True, profiles=True), v2_2_1.MAPPING, **_SINCE_2_2)
# The payments module (2.3.0; its own document since the first edition). The Payment Terminal
# Provider owns the Terminals and FinancialAdviceConfirmations: it creates them at the CPO's
# Receiver interface (ours); the CPO assigns locations and EVSEs to a Terminal (PUT/PATCH), asks
# for activations and deactivations at the PTP's Sender interface. Each side's endpoint is the
# module's URL, its objects below it (PAYMENTS_PATHS).
PAYMENTS_PATHS = {"terminals": "/terminals", "financial_advice_confirmations": "/financial-advice-confirmations"}
V2_3_0 = OcpiVersion("2.3.0", _interfaces(Interface("payments", RECEIVER, "/cpo/payments", "CPO"),
                                          hub=True, profiles=True),
                     v2_3_0.MAPPING, **_SINCE_2_2,
                     partner_interfaces=(Interface("payments", SENDER, "", "PTP"),))

#: highest first
VERSIONS: dict[str, OcpiVersion] = {v.number: v for v in (V2_3_0, V2_2_1, V2_1_1)}
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(VERSIONS)
#: the version the stored model is shaped like (its mapping is the identity on the wire shape)
MODEL_VERSION = V2_2_1.number


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def get(version: str | None) -> OcpiVersion:
    """The entry of a version (the model's version when none is known, e.g. a partner record
    written before versions were stored)."""
    return VERSIONS.get(version or MODEL_VERSION) or VERSIONS[MODEL_VERSION]


def offered(settings: Settings) -> list[str]:
    """The versions offered to partners, highest first (`ocpi_versions`; empty: all of them)."""
    chosen = settings.ocpi_versions or list(SUPPORTED_VERSIONS)
    return sorted(dict.fromkeys(chosen), key=version_key, reverse=True)


def refused_tariffs(version: str | None, tariffs: list[dict]) -> list[dict]:
    """Our tariffs a partner of `version` is not sent, each with the reasons (a tariff its version
    cannot say without a wrong price)."""
    mapping = get(version).mapping
    out = []
    for tariff in tariffs:
        reasons = mapping.refusal("tariff", tariff)
        if reasons:
            out.append({"id": tariff.get("id"), "reasons": reasons})
    return out


def check_offered(versions: list[str]) -> None:
    """The `ocpi_versions` setting names only versions evroam speaks (ValueError otherwise)."""
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown:
        raise ValueError(f"ocpi_versions: {unknown} not supported (choose from {sorted(SUPPORTED_VERSIONS)})")

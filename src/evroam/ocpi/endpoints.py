"""The OCPI endpoints evroam offers, per version and per our roles. One table, read by the
versions module (version details) and by the router that mounts the modules."""

from __future__ import annotations

from dataclasses import dataclass

from evroam.settings import Settings


@dataclass(frozen=True)
class Offered:
    module: str  # ModuleID
    interface_role: str  # SENDER | RECEIVER
    path: str  # below /ocpi/{version}
    needs_role: str | None  # our role that offers it (None: always)


OFFERED: dict[str, tuple[Offered, ...]] = {
    "2.2.1": (
        Offered("credentials", "SENDER", "/credentials", None),
        Offered("locations", "SENDER", "/cpo/locations", "CPO"),
        Offered("tariffs", "SENDER", "/cpo/tariffs", "CPO"),
        Offered("locations", "RECEIVER", "/emsp/locations", "EMSP"),
        Offered("tariffs", "RECEIVER", "/emsp/tariffs", "EMSP"),
        Offered("sessions", "SENDER", "/cpo/sessions", "CPO"),
        Offered("cdrs", "SENDER", "/cpo/cdrs", "CPO"),
        Offered("tokens", "RECEIVER", "/cpo/tokens", "CPO"),
        Offered("commands", "RECEIVER", "/cpo/commands", "CPO"),
        Offered("chargingprofiles", "RECEIVER", "/cpo/chargingprofiles", "CPO"),
        Offered("chargingprofiles", "SENDER", "/emsp/chargingprofiles", "EMSP"),
        Offered("sessions", "RECEIVER", "/emsp/sessions", "EMSP"),
        Offered("cdrs", "RECEIVER", "/emsp/cdrs", "EMSP"),
        Offered("tokens", "SENDER", "/emsp/tokens", "EMSP"),
        Offered("commands", "SENDER", "/emsp/commands", "EMSP"),  # CommandResults of the commands we send
    ),
}


def offered(settings: Settings, version: str) -> list[dict[str, str]]:
    """Endpoint objects for the version details of `version`."""
    base = f"{settings.base_url}/ocpi/{version}"
    return [
        {"identifier": o.module, "role": o.interface_role, "url": base + o.path}
        for o in OFFERED.get(version, ())
        if o.needs_role is None or o.needs_role in settings.roles
    ]

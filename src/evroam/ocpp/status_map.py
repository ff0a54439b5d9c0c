"""OCPP connector status -> OCPI EVSE status, for every status of every OCPP version.

A status reported for connector 0 (1.6) or EVSE 0 (2.x) concerns the whole station: only
Available, Unavailable and Faulted are allowed there. A charger that is not connected is UNKNOWN.
"""

from __future__ import annotations

from evroam.model.locations import Status

#: OCPP 1.6 ChargePointStatus -> OCPI EVSE status.
OCPP16: dict[str, Status] = {
    "Available": Status.AVAILABLE,
    "Preparing": Status.CHARGING,  # a vehicle is plugged in / a driver is starting: the EVSE is in use
    "Charging": Status.CHARGING,
    "SuspendedEVSE": Status.CHARGING,
    "SuspendedEV": Status.CHARGING,
    "Finishing": Status.CHARGING,  # still occupied until the cable is removed
    "Reserved": Status.RESERVED,
    "Unavailable": Status.INOPERATIVE,
    "Faulted": Status.OUTOFORDER,
}

#: OCPP 2.0.1 / 2.1 ConnectorStatusEnumType -> OCPI EVSE status.
OCPP2: dict[str, Status] = {
    "Available": Status.AVAILABLE,
    "Occupied": Status.CHARGING,
    "Reserved": Status.RESERVED,
    "Unavailable": Status.INOPERATIVE,
    "Faulted": Status.OUTOFORDER,
}

#: A status of the whole station (connector 0 / EVSE 0), any version. Available means "look at
#: the connectors' own statuses"; None.
STATION: dict[str, Status | None] = {
    "Available": None,
    "Unavailable": Status.INOPERATIVE,
    "Faulted": Status.OUTOFORDER,
}

OFFLINE = Status.UNKNOWN

def connector_status(ocpp_status: str, version: str) -> Status:
    """The OCPI status of a connector's OCPP status; ValueError for a status the version lacks."""
    table = OCPP16 if version == "1.6" else OCPP2
    try:
        return table[ocpp_status]
    except KeyError:
        raise ValueError(f"{ocpp_status!r} is not an OCPP {version} connector status") from None

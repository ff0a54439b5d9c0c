"""Locations in OCPI 2.2.1: the model's form without what 2.3.0 added (Parking places and an
EVSE's parking, help_phone, accepted_service_providers, connector capabilities, the MCS and
SAE_J3400 connector types, the EMPLOYEES/TAXIS/TENANTS parking restrictions)."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import CannotSay, Context, ObjectMapping, same

ONLY_2_3_LOCATION = ("help_phone", "parking_places")
ONLY_2_3_EVSE = ("parking", "accepted_service_providers")
ONLY_2_3_CONNECTOR = ("capabilities",)
ONLY_2_3_STANDARDS = frozenset({"MCS", "SAE_J3400"})
ONLY_2_3_RESTRICTIONS = frozenset({"EMPLOYEES", "TAXIS", "TENANTS"})
#: stored documents without these bytes are already 2.2.1 documents
MARKERS = (b'"help_phone"', b'"parking_places"', b'"parking"', b'"accepted_service_providers"', b"ISO_15118_",
           b'"capabilities":[]', b'"MCS"', b'"SAE_J3400"', b'"EMPLOYEES"', b'"TAXIS"', b'"TENANTS"')


def _without(doc: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in keys}


def connector_out(connector: dict[str, Any], ctx: Context | None = None) -> dict[str, Any] | None:
    """None: the connector's standard does not exist in 2.2.1."""
    if connector.get("standard") in ONLY_2_3_STANDARDS:
        return None
    return _without(connector, ONLY_2_3_CONNECTOR)


def evse_out(evse: dict[str, Any], ctx: Context | None = None) -> dict[str, Any] | None:
    out = _without(evse, ONLY_2_3_EVSE)
    if "parking_restrictions" in out:
        out["parking_restrictions"] = [r for r in out["parking_restrictions"] if r not in ONLY_2_3_RESTRICTIONS]
    if "connectors" in out:
        out["connectors"] = [c for c in (connector_out(c) for c in out["connectors"]) if c is not None]
        if not out["connectors"]:
            return None  # every connector is of a 2.3.0 type: the EVSE cannot be said
    return out


def location_out(location: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out = _without(location, ONLY_2_3_LOCATION)
    if "evses" in out:
        out["evses"] = [e for e in (evse_out(e) for e in out["evses"]) if e is not None]
    return out


def _part(fn, what: str):
    def out(doc: dict[str, Any], ctx: Context) -> dict[str, Any]:
        found = fn(doc)
        if found is None:
            raise CannotSay(f"{what} of a connector type OCPI 2.2.1 does not have (MCS, SAE_J3400)")
        return found
    return out


LOCATION = ObjectMapping(same, location_out)
EVSE = ObjectMapping(same, _part(evse_out, "an EVSE with only connectors"))
CONNECTOR = ObjectMapping(same, _part(connector_out, "a connector"))
LOCATION_PATCH = ObjectMapping(same, location_out)
EVSE_PATCH = ObjectMapping(same, lambda doc, ctx: evse_out(doc) or _without(doc, ONLY_2_3_EVSE))
CONNECTOR_PATCH = ObjectMapping(same, lambda doc, ctx: _without(doc, ONLY_2_3_CONNECTOR))

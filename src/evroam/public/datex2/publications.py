"""Our published OCPI locations as DATEX II v3 AFIR energy infrastructure publications.

The mapping (OCPI 2.2.1 -> DATEX II 3.7, `afirEnergyInfrastructure` / `afirFacilities`):

| OCPI | DATEX II |
|---|---|
| our locations | one `EnergyInfrastructureTable` (id `{CC}-{PID}-locations`) |
| Location | `EnergyInfrastructureSite` (id: the location id) with name, address, coordinates, operator |
| its EVSEs, together | one `EnergyInfrastructureStation` (id `{location id}-station`) |
| EVSE | `ElectricChargingPoint` (id: the EVSE uid; `externalIdentifier`: the EVSE ID) |
| Connector | `Connector`: type, format, maximum power (W), voltage, current |
| the EVSE's ad-hoc tariff | `ElectricEnergy` / `EnergyRate` (`ratePolicy` adHoc): price per kWh, per minute, session fee (`basePrice`), VAT included, with the VAT rate |
| EVSE status | `ElectricChargingPointStatus.status` (AVAILABLE -> available, CHARGING -> charging, OUTOFORDER -> outOfOrder ...) |

An object's `version` is a digest of its static data (everything but statuses and the times they
changed), so it moves when what the table says changes, and never with a status change alone: a
status publication refers to the table the NAP has. DATEX II money has two decimals: prices are given VAT included, rounded half up to the
cent (a per-minute price from a price per hour too).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

from evroam.model.common import format_datetime, parse_datetime

PROFILE_NAME = "AFIR Energy Infrastructure"
PROFILE_VERSION = "01-00-00"

NS = {
    "d2": "http://datex2.eu/schema/3/d2Payload",
    "com": "http://datex2.eu/schema/3/common",
    "aegi": "http://datex2.eu/schema/3/afirEnergyInfrastructure",
    "afac": "http://datex2.eu/schema/3/afirFacilities",
    "loc": "http://datex2.eu/schema/3/locationReferencing",
    "locx": "http://datex2.eu/schema/3/locationExtension",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"

STATUS = {"AVAILABLE": "available", "BLOCKED": "blocked", "CHARGING": "charging", "INOPERATIVE": "inoperative",
          "OUTOFORDER": "outOfOrder", "PLANNED": "planned", "REMOVED": "removed", "RESERVED": "reserved",
          "UNKNOWN": "unknown"}
_CONNECTORS = {
    "CHADEMO": "chademo", "IEC_60309_2_single_16": "iec60309x2single16", "IEC_60309_2_three_16": "iec60309x2three16",
    "IEC_60309_2_three_32": "iec60309x2three32", "IEC_60309_2_three_64": "iec60309x2three64",
    "IEC_62196_T1": "iec62196T1", "IEC_62196_T1_COMBO": "iec62196T1COMBO", "IEC_62196_T2": "iec62196T2",
    "IEC_62196_T2_COMBO": "iec62196T2COMBO", "IEC_62196_T3A": "iec62196T3A", "IEC_62196_T3C": "iec62196T3C",
    "PANTOGRAPH_BOTTOM_UP": "pantographBottomUp", "PANTOGRAPH_TOP_DOWN": "pantographTopDown",
    "TESLA_R": "teslaR", "TESLA_S": "teslaS",
    **{f"DOMESTIC_{c}": f"domestic{c}Type" for c in "ABCDEFGHIJKLMNO"},
}
_FORMATS = {"SOCKET": "socket", "CABLE": "cableMode3"}
_CENT = Decimal("0.01")

TariffFor = Callable[[dict[str, Any]], dict[str, Any] | None]


# ------------------------------------------------------------------ building blocks


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _el(parent: etree._Element, prefix: str, name: str, text: Any = None, **attrs: Any) -> etree._Element:
    element = etree.SubElement(parent, _q(prefix, name), {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = text if isinstance(text, str) else _number(text)
    return element


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(parent: etree._Element, prefix: str, name: str, value: str, lang: str = "en") -> None:
    """A MultilingualString."""
    element = _el(parent, prefix, name)
    values = _el(element, "com", "values")
    _el(values, "com", "value", value, lang=lang)


_LIVE = frozenset({"status", "last_updated", "status_schedule"})


def _static(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _static(v) for k, v in value.items() if k not in _LIVE}
    if isinstance(value, list):
        return [_static(v) for v in value]
    return value


def version(*objects: Any) -> str:
    """The version of objects' static data: 12 hex digits of a SHA-256 of it."""
    import hashlib

    import orjson

    return hashlib.sha256(orjson.dumps([_static(o) for o in objects], option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def _stamp(value: datetime | str) -> str:
    return format_datetime(parse_datetime(value) if isinstance(value, str) else value)


def _root(kind: str, country_code: str, party_id: str, now: datetime) -> etree._Element:
    root = etree.Element(_q("d2", "payload"), nsmap={k: v for k, v in NS.items()})
    root.set(XSI_TYPE, f"aegi:{kind}")
    root.set("lang", "en")
    root.set("modelBaseVersion", "3")
    root.set("profileName", PROFILE_NAME)
    root.set("profileVersion", PROFILE_VERSION)
    _el(root, "com", "publicationTime", _stamp(now))
    creator = _el(root, "com", "publicationCreator")
    _el(creator, "com", "country", country_code.lower())
    _el(creator, "com", "nationalIdentifier", f"{country_code}*{party_id}")
    return root


def table_id(country_code: str, party_id: str) -> str:
    return f"{country_code}-{party_id}-locations"


def table_version(locations: Iterable[dict[str, Any]], tariffs: Iterable[dict[str, Any]]) -> str:
    return version(list(locations), sorted(tariffs, key=lambda t: t.get("id", "")))


def station_id(location: dict[str, Any]) -> str:
    return f"{location['id']}-station"


def _evses(location: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in location.get("evses") or [] if e.get("connectors")]


def _watts(connector: dict[str, Any]) -> float:
    if connector.get("max_electric_power"):
        return float(connector["max_electric_power"])
    volts, amps = connector.get("max_voltage") or 0, connector.get("max_amperage") or 0
    factor = (3 if volts < 300 else math.sqrt(3)) if connector.get("power_type") == "AC_3_PHASE" else 1
    return float(round(volts * amps * factor))


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------ the table


def _location_reference(parent: etree._Element, location: dict[str, Any]) -> None:
    ref = _el(parent, "afac", "locationReference")
    ref.set(XSI_TYPE, "loc:PointLocation")
    ext = _el(ref, "loc", "_locationReferenceExtension")
    facility = _el(ext, "locx", "facilityLocation")
    if location.get("time_zone"):
        _el(facility, "locx", "timeZone", location["time_zone"])
    address = _el(facility, "locx", "address")
    if location.get("postal_code"):
        _el(address, "locx", "postcode", location["postal_code"])
    _text(address, "locx", "city", location["city"])
    _el(address, "locx", "countryCode", location["country"][:2].lower() if len(location["country"]) == 2
        else _alpha2(location["country"]))
    line = _el(address, "locx", "addressLine", order=0)
    _el(line, "locx", "type", "street")
    _text(line, "locx", "text", location["address"])
    lat, lon = float(location["coordinates"]["latitude"]), float(location["coordinates"]["longitude"])
    display = _el(ref, "loc", "coordinatesForDisplay")
    _el(display, "loc", "latitude", lat)
    _el(display, "loc", "longitude", lon)
    point = _el(ref, "loc", "pointByCoordinates")
    coordinates = _el(point, "loc", "pointCoordinates")
    _el(coordinates, "loc", "latitude", lat)
    _el(coordinates, "loc", "longitude", lon)


def _alpha2(alpha3: str) -> str:
    """ISO 3166 alpha-3 (OCPI Location.country) -> alpha-2 (DATEX II), for the countries of the EU
    and its neighbours; others keep their first two letters."""
    return {
        "NLD": "nl", "DEU": "de", "BEL": "be", "FRA": "fr", "LUX": "lu", "AUT": "at", "CHE": "ch", "DNK": "dk",
        "SWE": "se", "NOR": "no", "FIN": "fi", "POL": "pl", "CZE": "cz", "ESP": "es", "PRT": "pt", "ITA": "it",
        "IRL": "ie", "GBR": "gb", "SVK": "sk", "SVN": "si", "HUN": "hu", "ROU": "ro", "BGR": "bg", "HRV": "hr",
        "GRC": "gr", "EST": "ee", "LVA": "lv", "LTU": "lt", "CYP": "cy", "MLT": "mt", "ISL": "is", "LIE": "li",
    }.get(alpha3.upper(), alpha3[:2].lower())


def _organisation(parent: etree._Element, name: str, identifier: str) -> None:
    operator = _el(parent, "afac", "operator")
    operator.set(XSI_TYPE, "afac:AnOrganisation")
    _text(operator, "afac", "name", name)
    ext = _el(operator, "afac", "externalIdentifier")
    _el(ext, "afac", "identifier", identifier)


def _energy_rate(parent: etree._Element, tariff: dict[str, Any], defined: set[str]) -> None:
    """The ad-hoc tariff as an EnergyRate: one price group per tariff element. A rate is written
    once per publication (ids are unique there); the other points refer to it."""
    product = _el(parent, "aegi", "energyProduct")
    product.set(XSI_TYPE, "aegi:ElectricEnergy")
    if tariff["id"] in defined:
        _el(product, "aegi", "energyRateByReference", id=tariff["id"], targetClass="aegi:EnergyRate")
        return
    defined.add(tariff["id"])
    rate = _el(product, "aegi", "energyRate", id=tariff["id"])
    _el(rate, "aegi", "ratePolicy", "adHoc")
    _el(rate, "aegi", "lastUpdated", _stamp(tariff.get("last_updated") or format_datetime(datetime.now().astimezone())))
    _el(rate, "aegi", "applicableCurrency", tariff["currency"].upper())
    tax_included = tariff.get("tax_included") == "YES"
    for index, element in enumerate(tariff.get("elements") or []):
        for comp in element.get("price_components") or []:
            kind = {"ENERGY": "pricePerKWh", "TIME": "pricePerMinute", "FLAT": "basePrice"}.get(comp["type"])
            if kind is None:
                continue  # parking time: not a price of the energy
            price = Decimal(str(comp["price"]))
            if comp["type"] == "TIME":
                price /= 60
            vat = comp.get("vat")
            if not tax_included and vat is not None:
                price *= 1 + Decimal(str(vat)) / 100
            energy_price = _el(rate, "aegi", "energyPrice")
            _el(energy_price, "aegi", "priceGroupIndex", index)
            _el(energy_price, "aegi", "priceType", kind)
            _el(energy_price, "aegi", "value", _money(price))
            if tax_included or vat is not None:
                _el(energy_price, "aegi", "taxIncluded", True)
            if vat is not None:
                _el(energy_price, "aegi", "taxRate", vat)


def _charging_point(parent: etree._Element, evse: dict[str, Any], tariff: dict[str, Any] | None,
                    defined: set[str]) -> None:
    point = _el(parent, "aegi", "refillPoint", id=evse["uid"], version=version(evse))
    point.set(XSI_TYPE, "aegi:ElectricChargingPoint")
    if evse.get("last_updated"):
        _el(point, "afac", "lastUpdated", _stamp(evse["last_updated"]))
    if evse.get("evse_id"):
        ext = _el(point, "afac", "externalIdentifier")
        _el(ext, "afac", "identifier", evse["evse_id"])
    connectors = evse.get("connectors") or []
    _el(point, "aegi", "deliveryUnit", "kWh")
    if tariff is not None:
        _energy_rate(point, tariff, defined)
    current = "dc" if any(c.get("power_type") == "DC" for c in connectors) else "ac"
    _el(point, "aegi", "currentType", current)
    _el(point, "aegi", "numberOfConnectors", len(connectors))
    _el(point, "aegi", "availableChargingPower", max(_watts(c) for c in connectors))
    for connector in connectors:
        node = _el(point, "aegi", "connector")
        kind = _CONNECTORS.get(connector["standard"])
        _el(node, "aegi", "connectorType", kind or "other")
        if kind is None:
            _el(node, "aegi", "otherConnector", connector["standard"])
        if connector.get("format") in _FORMATS:
            _el(node, "aegi", "connectorFormat", _FORMATS[connector["format"]])
        _el(node, "aegi", "maxPowerAtSocket", _watts(connector))
        if connector.get("max_voltage"):
            _el(node, "aegi", "voltage", connector["max_voltage"])
        if connector.get("max_amperage"):
            _el(node, "aegi", "maximumCurrent", connector["max_amperage"])


def table_publication(locations: list[dict[str, Any]], tariffs: dict[str, dict[str, Any]], *, country_code: str,
                      party_id: str, operator: str, tariff_for: TariffFor, now: datetime) -> etree._Element:
    """The EnergyInfrastructureTablePublication of our published locations."""
    root = _root("EnergyInfrastructureTablePublication", country_code, party_id, now)
    table = _el(root, "aegi", "energyInfrastructureTable", id=table_id(country_code, party_id),
                version=table_version(locations, tariffs.values()))
    _el(table, "aegi", "tableName", f"{operator} recharging points")
    defined: set[str] = set()  # energy rates written so far
    for location in locations:
        evses = _evses(location)
        site = _el(table, "aegi", "energyInfrastructureSite", id=location["id"],
                   version=version(location))
        if location.get("name"):
            _text(site, "afac", "name", location["name"])
        _el(site, "afac", "lastUpdated", _stamp(location["last_updated"]))
        _location_reference(site, location)
        _organisation(site, (location.get("operator") or {}).get("name") or operator, f"{country_code}*{party_id}")
        station = _el(site, "aegi", "energyInfrastructureStation", id=station_id(location),
                      version=version(location))
        _el(station, "afac", "lastUpdated", _stamp(location["last_updated"]))
        if evses:
            _el(station, "aegi", "totalMaximumPower",
                sum(max(_watts(c) for c in e["connectors"]) for e in evses))
        _el(station, "aegi", "numberOfRefillPoints", len(evses))
        for evse in evses:
            _charging_point(station, evse, tariff_for(evse), defined)
    if not locations:  # a table needs a site: say there is none yet
        raise ValueError("no published location: a DATEX II table needs at least one site")
    return root


# ------------------------------------------------------------------ the status


def status_publication(locations: list[dict[str, Any]], *, country_code: str, party_id: str, table_version: str,
                       now: datetime, only: set[tuple[str, str]] | None = None) -> etree._Element:
    """The EnergyInfrastructureStatusPublication: each charging point's status (`only`: just
    these (location id, EVSE uid), for a delta)."""
    root = _root("EnergyInfrastructureStatusPublication", country_code, party_id, now)
    _el(root, "aegi", "tableReference", id=table_id(country_code, party_id), version=table_version,
        targetClass="aegi:EnergyInfrastructureTable")
    for location in locations:
        evses = [e for e in _evses(location) if only is None or (location["id"], e["uid"]) in only]
        if not evses:
            continue
        site = _el(root, "aegi", "energyInfrastructureSiteStatus")
        _el(site, "afac", "reference", id=location["id"], version=version(location),
            targetClass="afac:FacilityObject")
        _el(site, "afac", "lastUpdated", _stamp(location["last_updated"]))
        station = _el(site, "aegi", "energyInfrastructureStationStatus")
        _el(station, "afac", "reference", id=station_id(location), version=version(location),
            targetClass="afac:FacilityObject")
        _el(station, "afac", "lastUpdated", _stamp(location["last_updated"]))
        available = any(e.get("status") == "AVAILABLE" for e in evses)
        if only is None:
            _el(station, "aegi", "isAvailable", available)
        for evse in evses:
            point = _el(station, "aegi", "refillPointStatus")
            point.set(XSI_TYPE, "aegi:ElectricChargingPointStatus")
            _el(point, "afac", "reference", id=evse["uid"], version=version(evse),
                targetClass="afac:FacilityObject")
            if evse.get("last_updated"):
                _el(point, "afac", "lastUpdated", _stamp(evse["last_updated"]))
            _el(point, "aegi", "status", STATUS.get(evse.get("status", "UNKNOWN"), "unknown"))
    return root


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

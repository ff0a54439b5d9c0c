"""What the drivers' tests share: an eMSP instance (DE/MSP) with a registered CPO partner (NL/CPO)
that pushes its locations, tariffs, sessions and CDRs to us over OCPI, and builders of those
objects with a tariff whose prices are easy to check by hand."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from evroam.model.common import format_datetime
from harness import auth, httpx

EMSP = ("DE", "MSP")
CPO = ("NL", "CPO")
CPO_TOKEN = "cpo-partner-token"
OCPI = "/ocpi/2.2.1/emsp"

# 0.50 per session + 0.25 per kWh (+ 2.00 per hour parking), all with 21 % VAT.
TARIFF = {
    "country_code": CPO[0], "party_id": CPO[1], "id": "T-DC", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1},
                              {"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 2.00, "vat": 21.0, "step_size": 60}]},
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}


def tariff(**extra) -> dict:
    return {**copy.deepcopy(TARIFF), **extra}


def cents(value: Decimal | float | str) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected_cost(kwh: float, parking_h: float = 0.0) -> tuple[str, str]:
    """(excl, incl) of TARIFF for a session, to the cent, computed independently of the engine."""
    excl = Decimal("0.50") + Decimal("0.25") * Decimal(str(kwh)) + Decimal("2.00") * Decimal(str(parking_h))
    return cents(excl), cents(excl * Decimal("1.21"))


def location(lid: str = "LOC1", *, lat: str = "52.37000", lon: str = "4.89000", cc: str = CPO[0],
             pid: str = CPO[1], evses: list[dict] | None = None, **extra) -> dict:
    loc = {
        "country_code": cc, "party_id": pid, "id": lid, "publish": True, "name": f"Station {lid}",
        "address": "Damrak 1", "city": "Amsterdam", "postal_code": "1012LG", "country": "NLD",
        "coordinates": {"latitude": lat, "longitude": lon}, "time_zone": "Europe/Amsterdam",
        "operator": {"name": "Fast Charging BV"}, "last_updated": "2024-03-01T10:00:00Z",
        "evses": evses if evses is not None else [
            evse(f"{lid}-DC", "AVAILABLE", "IEC_62196_T2_COMBO", "DC", 150000),
            evse(f"{lid}-AC", "CHARGING", "IEC_62196_T2", "AC_3_PHASE", 22000),
        ],
    }
    loc.update(extra)
    return loc


def evse(uid: str, status: str, standard: str, power_type: str, watts: int | None, tariff_id: str = "T-DC") -> dict:
    connector = {"id": "1", "standard": standard, "format": "CABLE", "power_type": power_type,
                 "max_voltage": 400 if power_type != "AC_3_PHASE" else 230, "max_amperage": 32,
                 "tariff_ids": [tariff_id], "last_updated": "2024-03-01T10:00:00Z"}
    if watts is not None:
        connector["max_electric_power"] = watts
    return {"uid": uid, "evse_id": f"NL*CPO*E{uid}", "status": status, "connectors": [connector],
            "capabilities": ["REMOTE_START_STOP_CAPABLE"], "last_updated": "2024-03-01T10:00:00Z"}


def cdr_token(uid: str, token_type: str = "RFID", contract_id: str = "DE-MSP-C00000001-X") -> dict:
    return {"country_code": EMSP[0], "party_id": EMSP[1], "uid": uid, "type": token_type,
            "contract_id": contract_id}


def cdr(cid: str, uid: str, *, start: datetime, kwh: float, charge_minutes: float = 60, parking_minutes: float = 0,
        token_type: str = "RFID", total: tuple[str, str] | None = None, with_tariff: bool = True,
        location_id: str = "LOC1", **extra) -> dict:
    """A CDR of TARIFF: `kwh` charged in `charge_minutes`, then `parking_minutes` parked; its
    total_cost is the right price unless `total` (excl, incl) says otherwise."""
    charge_end = start + timedelta(minutes=charge_minutes)
    end = charge_end + timedelta(minutes=parking_minutes)
    periods = [{"start_date_time": format_datetime(start), "tariff_id": "T-DC",
                "dimensions": [{"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": charge_minutes / 60}]}]
    if parking_minutes:
        periods.append({"start_date_time": format_datetime(charge_end), "tariff_id": "T-DC",
                        "dimensions": [{"type": "PARKING_TIME", "volume": parking_minutes / 60}]})
    excl, incl = total or expected_cost(kwh, parking_minutes / 60)
    data = {
        "country_code": CPO[0], "party_id": CPO[1], "id": cid, "start_date_time": format_datetime(start),
        "end_date_time": format_datetime(end), "session_id": cid, "cdr_token": cdr_token(uid, token_type),
        "auth_method": "WHITELIST",
        "cdr_location": {"id": location_id, "name": f"Station {location_id}", "address": "Damrak 1",
                         "city": "Amsterdam", "postal_code": "1012LG", "country": "NLD",
                         "coordinates": {"latitude": "52.37000", "longitude": "4.89000"},
                         "evse_uid": f"{location_id}-DC", "evse_id": f"NL*CPO*E{location_id}-DC", "connector_id": "1",
                         "connector_standard": "IEC_62196_T2_COMBO", "connector_format": "CABLE",
                         "connector_power_type": "DC"},
        "currency": "EUR", "charging_periods": periods, "total_cost": {"excl_vat": float(excl), "incl_vat": float(incl)},
        "total_energy": kwh, "total_time": (charge_minutes + parking_minutes) / 60,
        "last_updated": format_datetime(end),
    }
    if parking_minutes:
        data["total_parking_time"] = parking_minutes / 60
    if with_tariff:
        data["tariffs"] = [tariff()]
    data.update(extra)
    return data


def session(sid: str, uid: str, *, start: datetime, kwh: float, status: str = "ACTIVE", minutes: float = 30,
            token_type: str = "RFID", with_cost: bool = True, location_id: str = "LOC1", **extra) -> dict:
    data = {
        "country_code": CPO[0], "party_id": CPO[1], "id": sid, "start_date_time": format_datetime(start),
        "kwh": kwh, "cdr_token": cdr_token(uid, token_type), "auth_method": "COMMAND",
        "location_id": location_id, "evse_uid": f"{location_id}-DC", "connector_id": "1", "currency": "EUR",
        "charging_periods": [{"start_date_time": format_datetime(start), "tariff_id": "T-DC",
                              "dimensions": [{"type": "ENERGY", "volume": kwh},
                                             {"type": "TIME", "volume": minutes / 60}]}],
        "status": status, "last_updated": format_datetime(start + timedelta(minutes=minutes)),
    }
    if status == "COMPLETED":
        data["end_date_time"] = format_datetime(start + timedelta(minutes=minutes))
    if with_cost:
        excl, incl = expected_cost(kwh)
        data["total_cost"] = {"excl_vat": float(excl), "incl_vat": float(incl)}
    data.update(extra)
    return data


async def emsp_with_cpo(make_instance, name: str = "emsp", **extra):
    """Our eMSP (DE/MSP, eMSP role only) with the CPO partner NL/CPO registered (token CPO_TOKEN),
    and the partner's tariff and location LOC1 pushed to us."""
    emsp = await make_instance(name, country_code=EMSP[0], party_id=EMSP[1], roles=("EMSP",), extra=extra)
    await emsp.add_partner("cpo", CPO_TOKEN, [("CPO", *CPO)])
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        await put(http, emsp, "tariffs", tariff())
        await put(http, emsp, "locations", location())
    return emsp


async def put(http: httpx.AsyncClient, inst, module: str, obj: dict) -> None:
    r = await http.put(f"{inst.url}{OCPI}/{module}/{obj['country_code']}/{obj['party_id']}/{obj['id']}", json=obj)
    assert r.status_code in (200, 201), r.text


async def post_cdr(http: httpx.AsyncClient, inst, obj: dict) -> None:
    r = await http.post(f"{inst.url}{OCPI}/cdrs", json=obj)
    assert r.status_code == 201, r.text


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}

"""The statistics' fact of a CDR we made: when (local day and hour of week at the location),
where (charger, EVSE, location), for whom (the token's eMSP party), how long, how much energy
and money. Written in the CDR's own transaction, so every CDR has its fact and no other."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evroam.model.common import parse_datetime
from evroam.store.charging import TransactionRecord

#: money in the facts: whole ten-thousandths of the currency unit
SCALE = Decimal(10000)


def ten_thousandths(value: Any) -> int | None:
    if value is None:
        return None
    return int((Decimal(str(value)) * SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def session_fact(tx: TransactionRecord, cdr: dict[str, Any]) -> dict[str, Any]:
    started = parse_datetime(cdr["start_date_time"])
    ended = parse_datetime(cdr["end_date_time"])
    local = started.astimezone(_zone(tx.state.get("time_zone")))
    emsp = tx.state.get("emsp") or [None, None]
    cost = cdr.get("total_cost") or {}
    return {
        "session_id": cdr["id"], "charger_id": tx.charger_id, "evse_number": tx.evse_number,
        "location_id": (cdr.get("cdr_location") or {}).get("id"),
        "emsp_country_code": (emsp[0] or None), "emsp_party_id": (emsp[1] or None),
        "started_at": started, "ended_at": ended, "day": local.date().isoformat(),
        "hour_of_week": local.weekday() * 24 + local.hour,
        "seconds": max(0.0, (ended - started).total_seconds()), "kwh": float(cdr.get("total_energy") or 0.0),
        "cost_excl_vat": ten_thousandths(cost.get("excl_vat")) or 0,
        "cost_incl_vat": ten_thousandths(cost.get("incl_vat")), "currency": cdr["currency"],
    }

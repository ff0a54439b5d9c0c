"""Prices explained for the back office: a tariff in words and the price the engine computes for
a charge an operator describes (energy, duration, start: the same as `evroam tariff estimate`),
and a CDR's price explained per charging period, re-priced by the tariff engine from the CDR's
own periods with the tariff it carries."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evroam.model.common import parse_datetime
from evroam.services.errors import Invalid, NotFound
from evroam.services.reconciliation import Unpriceable, pick_tariff, session_from_periods
from evroam.settings import Settings
from evroam.store import Store
from evroam.tariffs import (
    CompiledTariff,
    InputError,
    PricingError,
    Rounding,
    estimate,
    explain,
    parse_tariff,
    price_session,
)
from evroam.tariffs.describe import describe_tariff

#: money of the back office's prices: to the cent
CENTS = Rounding(decimals=2)


def parse_start(value: str, zone: str) -> datetime:
    """A start as an operator types it: local time in `zone` (2024-05-06T18:00) or with an offset."""
    try:
        start = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"start: {value!r} is not a date and time such as 2024-05-06T18:00") from None
    return start if start.tzinfo is not None else start.replace(tzinfo=ZoneInfo(zone))


def check_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"time zone: {zone!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None
    return zone


class PriceViews:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    async def tariff(self, tariff_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            tariff = await self.store.tariffs.get(conn, *self.owner, tariff_id)
        if tariff is None:
            raise NotFound(f"tariff {tariff_id!r} not found", kind="tariff")
        return tariff

    @staticmethod
    def words(tariff: dict[str, Any]) -> dict[str, Any]:
        return describe_tariff(tariff)

    def preview(self, tariff: dict[str, Any], *, kwh: float, minutes: float, start: str,
                time_zone: str) -> dict[str, Any]:
        """The engine's price of charging `kwh` evenly over `minutes` from `start`: what
        `evroam tariff estimate --kwh K --power-kw K*60/MINUTES --start START --tz ZONE --decimals 2`
        prints, with its explanation per period."""
        zone = check_zone(time_zone)
        if not kwh >= 0:
            raise Invalid("energy: a number of kWh, 0 or more")
        if not minutes > 0:
            raise Invalid("duration: a number of minutes greater than 0")
        begin = parse_start(start, zone)
        try:
            model = parse_tariff(tariff)
            if kwh > 0:
                est = estimate(model, kwh=kwh, power_kw=kwh * 60.0 / minutes, start=begin, time_zone=zone,
                               rounding=CENTS)
            else:  # plugged in without charging
                est = estimate(model, kwh=0.0, power_kw=1.0, start=begin, time_zone=zone, parking_minutes=minutes,
                               rounding=CENTS)
        except (InputError, PricingError, ValueError) as exc:
            raise Invalid(f"the tariff cannot price this charge: {exc}") from None
        return {"result": est.to_dict(), "explanation": est.explanation.to_dict(), "time_zone": zone}

    async def explain_cdr(self, cc: str, pid: str, cdr_id: str) -> dict[str, Any]:
        """The CDR, its check (received CDRs), and its price per charging period as the engine
        computes it from the CDR's periods and tariff (or why it cannot)."""
        async with self.store.connect() as conn:
            cdr = await self.store.cdrs.get(conn, cc, pid, cdr_id)
            if cdr is None:
                raise NotFound(f"CDR {cdr_id!r} of {cc}/{pid} not found", kind="cdr")
            check = await self.store.cdr_checks.get(conn, cc, pid, cdr_id)
            tariff, wanted = pick_tariff(cdr)
            if tariff is None and wanted:
                tariff = await self.store.tariffs.get(conn, cc, pid, wanted)
            location_id = (cdr.get("cdr_location") or {}).get("id")
            location = await self.store.locations.get(conn, cc, pid, location_id) if location_id else None
        zone = (location or {}).get("time_zone") or "UTC"
        out: dict[str, Any] = {"cdr": cdr, "check": check, "time_zone": zone, "tariff": tariff,
                               "explanation": None, "problem": None}
        if tariff is None:
            out["problem"] = "the CDR names no tariff we hold"
            return out
        try:
            start, end = parse_datetime(cdr["start_date_time"]), parse_datetime(cdr["end_date_time"])
            session = session_from_periods(cdr.get("charging_periods") or [], start, end)
            ct = CompiledTariff(parse_tariff(tariff), zone)
            result = price_session(ct, session, rounding=CENTS)
            out["explanation"] = explain(ct, result).to_dict()
        except (Unpriceable, InputError, PricingError, ValueError, KeyError) as exc:
            out["problem"] = f"cannot be priced again: {exc}"
        return out

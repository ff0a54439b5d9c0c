"""Drivers' monthly invoices: one line per CDR that ended in the month (in `billing_time_zone`),
with its VAT taken from the CDR's total_cost (VAT = incl_vat - excl_vat), money as Decimal to the
cent, totals per currency equal to the sum of the lines. Credit CDRs (credit = true) count as
negative amounts: their values are negative per OCPI, and a positive one is negated.

The same figures give a driver's spend this month (for the monthly credit limit)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.drivers import Driver
from evroam.services.errors import Invalid
from evroam.settings import Settings
from evroam.store import Store

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def money(value: Any) -> Decimal:
    """A wire number (float or str) as Decimal to the cent, half up (0.125 -> 0.13)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def month_bounds(month: str, time_zone: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a calendar month `YYYY-MM` in a time zone."""
    m = _MONTH_RE.match(month or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
        raise Invalid(f"month: {month!r} is not a month such as 2024-05 (YYYY-MM)")
    year, mon = int(m.group(1)), int(m.group(2))
    zone = ZoneInfo(time_zone)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return parse_datetime(start), parse_datetime(end)


def current_month(now: datetime, time_zone: str) -> str:
    return now.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m")


def line(cdr: dict[str, Any]) -> dict[str, Any]:
    """The invoice line of one CDR."""
    cost = cdr.get("total_cost") or {}
    excl = money(cost.get("excl_vat", 0))
    incl = money(cost["incl_vat"]) if cost.get("incl_vat") is not None else excl
    credit = bool(cdr.get("credit"))
    if credit:  # a Credit CDR cancels an earlier one: its amounts count negatively
        excl, incl = -abs(excl), -abs(incl)
    vat = incl - excl
    rate = None
    if excl != 0:
        rate = str((vat / excl * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    loc = cdr.get("cdr_location") or {}
    out: dict[str, Any] = {
        "cdr_id": cdr["id"],
        "cpo": f"{cdr['country_code']}/{cdr['party_id']}",
        "start_date_time": cdr["start_date_time"],
        "end_date_time": cdr["end_date_time"],
        "location": ", ".join(p for p in (loc.get("name"), loc.get("address"), loc.get("city")) if p),
        "evse_id": loc.get("evse_id"),
        "energy_kwh": str(Decimal(str(cdr.get("total_energy", 0))).quantize(Decimal("0.001"),
                                                                             rounding=ROUND_HALF_UP)),
        "currency": cdr["currency"],
        "excl_vat": str(excl),
        "vat": str(vat),
        "vat_rate": rate,
        "incl_vat": str(incl),
        "vat_known": cost.get("incl_vat") is not None,
        "credit": credit,
    }
    if cdr.get("credit_reference_id"):
        out["credit_reference_id"] = cdr["credit_reference_id"]
    return out


def totals(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per currency: the sums of the lines (so the totals are exactly what the lines add up to)."""
    sums: dict[str, dict[str, Any]] = {}
    for ln in lines:
        t = sums.setdefault(ln["currency"], {"currency": ln["currency"], "lines": 0, "energy_kwh": Decimal(0),
                                             "excl_vat": ZERO, "vat": ZERO, "incl_vat": ZERO})
        t["lines"] += 1
        t["energy_kwh"] += Decimal(ln["energy_kwh"])
        for key in ("excl_vat", "vat", "incl_vat"):
            t[key] += Decimal(ln[key])
    return [{**t, **{k: str(t[k]) for k in ("energy_kwh", "excl_vat", "vat", "incl_vat")}}
            for t in sorted(sums.values(), key=lambda t: t["currency"])]


CSV_COLUMNS = ("end_date_time", "cdr_id", "cpo", "location", "evse_id", "energy_kwh", "currency", "excl_vat",
               "vat_rate", "vat", "incl_vat", "credit")


def to_csv(invoice: dict[str, Any]) -> str:
    """The invoice as CSV: a header, one row per CDR, then one TOTAL row per currency."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for ln in invoice["lines"]:
        writer.writerow([("yes" if ln[c] else "no") if c == "credit" else ("" if ln[c] is None else ln[c])
                         for c in CSV_COLUMNS])
    for t in invoice["totals"]:
        writer.writerow(["TOTAL", f"{t['lines']} CDRs", "", "", "", t["energy_kwh"], t["currency"], t["excl_vat"],
                         "", t["vat"], t["incl_vat"], ""])
    return buf.getvalue()


class InvoiceService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def month(self, driver: Driver, month: str) -> dict[str, Any]:
        """The driver's invoice of one month (`YYYY-MM`), with the driver's subscription plan of
        that month applied (services/plan_pricing.py)."""
        from evroam.services.plan_pricing import apply_plan
        from evroam.services.subscriptions import plan_in

        zone = self.settings.billing_time_zone
        start, end = month_bounds(month, zone)
        async with self.store.connect() as conn:
            cdrs = await self.store.driver_records.of_driver(conn, driver.pk, "cdr", ended_from=start, ended_before=end,
                                                             limit=100_000, newest_first=False)
            plan = await plan_in(self.store, conn, driver.pk, month)
        lines = sorted((line(c) for c in cdrs), key=lambda ln: (parse_datetime(ln["end_date_time"]), ln["cdr_id"]))
        subscription = None
        if plan is not None:
            lines, subscription = apply_plan(plan, lines, period_start=format_datetime(start),
                                             party=f"{self.settings.country_code}/{self.settings.party_id}")
        return {
            "driver": {"id": driver.id, "name": driver.name, "email": driver.email,
                       "contract_id": driver.contract.display},
            "issuer": self.settings.business_name,
            "month": month,
            "time_zone": zone,
            "period": {"start": format_datetime(start), "end": format_datetime(end)},
            "lines": lines,
            "totals": totals(lines),
            "subscription": subscription,
        }

    async def spend(self, conn, driver: Driver, now: datetime | None = None) -> Decimal:
        """What the driver spent this month (incl. VAT, in our `currency`; CDRs in other currencies
        do not count)."""
        now = now or utcnow()
        start, end = month_bounds(current_month(now, self.settings.billing_time_zone), self.settings.billing_time_zone)
        cdrs = await self.store.driver_records.of_driver(conn, driver.pk, "cdr", ended_from=start, ended_before=end,
                                                         limit=100_000)
        return sum((Decimal(line(c)["incl_vat"]) for c in cdrs if c.get("currency") == self.settings.currency), ZERO)

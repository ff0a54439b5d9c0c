"""CDR reconciliation (we are the eMSP): every CDR a CPO partner sends us is priced again by our
tariff engine, from its own charging periods and its tariff, and compared with what the CPO
charges (`total_cost`).

- The tariff: the one in the CDR's `tariffs` whose id the charging periods name (else its first
  one); without `tariffs`, the tariff we hold from that CPO with the periods' `tariff_id`.
- The time zone: the one of the location we hold from that CPO (else UTC).
- The periods become meter samples: energy grows evenly over each period at its average power;
  a period without energy is not charging (parking or idle).
- A difference (excl. or incl. VAT, to the cent) larger than the `dispute_threshold` setting
  makes the CDR a dispute. Every CDR gets a check row: OK, DISPUTE, UNCHECKED (we cannot price it:
  no tariff, reservation periods, a tariff in another currency) or CREDIT (a Credit CDR, which
  cancels an earlier one and is not priced).

`price_periods` also prices a running session for the driver API when the CPO sends no cost."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from evroam.events import Bus
from evroam.model.common import parse_datetime, utcnow
from evroam.services.errors import NotFound
from evroam.services.invoices import money
from evroam.services.pricing import MONEY
from evroam.settings import Settings
from evroam.store import Store
from evroam.tariffs import ChargingSession, MeterSample, PricingError, PricingResult, price_session

log = logging.getLogger(__name__)
OK, DISPUTE, UNCHECKED, CREDIT = "OK", "DISPUTE", "UNCHECKED", "CREDIT"


class Unpriceable(ValueError):
    """The record cannot be priced again (the reason is the message)."""


def session_from_periods(periods: Sequence[dict[str, Any]], start: datetime, end: datetime) -> ChargingSession:
    """Meter samples that reproduce OCPI charging periods: each period from its start to the next
    one's (the last to `end`), its ENERGY volume delivered evenly over it."""
    ordered = sorted(periods, key=lambda p: parse_datetime(p["start_date_time"]))
    samples: list[MeterSample] = []
    kwh = 0.0
    for i, period in enumerate(ordered):
        if any(d.get("type") == "RESERVATION_TIME" for d in period.get("dimensions") or ()):
            raise Unpriceable("reservation periods are not re-priced")
        t0 = max(parse_datetime(period["start_date_time"]), start)
        t1 = parse_datetime(ordered[i + 1]["start_date_time"]) if i + 1 < len(ordered) else end
        energy = sum(float(d.get("volume") or 0) for d in period.get("dimensions") or () if d.get("type") == "ENERGY")
        hours = (t1 - t0).total_seconds() / 3600
        power = energy / hours if energy > 0 and hours > 0 else 0.0
        samples.append(MeterSample(t0, kwh, power, None))
        kwh += energy
    samples.append(MeterSample(max(end, samples[-1].timestamp) if samples else end, kwh, 0.0, None))
    return ChargingSession(start, max(end, start), tuple(samples))


def price_periods(periods: Sequence[dict[str, Any]], start: datetime, end: datetime, tariff: dict[str, Any],
                  time_zone: str) -> PricingResult:
    if not periods:
        raise Unpriceable("no charging periods")
    try:
        return price_session(tariff, session_from_periods(periods, start, end), time_zone, rounding=MONEY)
    except (PricingError, ValueError) as exc:
        raise Unpriceable(f"cannot be priced with tariff {tariff.get('id')!r}: {exc}") from None


def pick_tariff(record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The tariff the record carries that its periods name (or its first one), and the tariff id
    the periods name."""
    wanted = next((p.get("tariff_id") for p in record.get("charging_periods") or () if p.get("tariff_id")), None)
    carried = record.get("tariffs") or []
    if wanted is not None:
        found = next((t for t in carried if str(t.get("id", "")).casefold() == wanted.casefold()), None)
        if found is not None:
            return found, wanted
    return (carried[0] if carried else None), wanted


class ReconciliationService:
    def __init__(self, store: Store, bus: Bus, settings: Settings) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        if "EMSP" in settings.roles:
            bus.subscribe("cdr.received", self._on_cdr)

    @property
    def threshold(self) -> Decimal:
        return Decimal(str(self.settings.dispute_threshold))

    async def _on_cdr(self, event) -> None:
        d = event.data
        await self.check(d["country_code"], d["party_id"], d["cdr_id"])

    async def tariff_for(self, conn, cc: str, pid: str, record: dict[str, Any]) -> tuple[dict | None, str | None]:
        tariff, wanted = pick_tariff(record)
        if tariff is None and wanted:
            tariff = await self.store.tariffs.get(conn, cc, pid, wanted)
        return tariff, wanted

    async def time_zone(self, conn, cc: str, pid: str, location_id: str | None) -> str:
        location = await self.store.locations.get(conn, cc, pid, location_id) if location_id else None
        return (location or {}).get("time_zone") or "UTC"

    async def check(self, cc: str, pid: str, cdr_id: str) -> dict[str, Any]:
        """Price one received CDR again and store the outcome; the check row."""
        async with self.store.connect() as conn:
            cdr = await self.store.cdrs.get(conn, cc, pid, cdr_id)
            if cdr is None:
                raise NotFound(f"CDR {cdr_id!r} of {cc}/{pid} not found", kind="cdr")
            tariff, wanted = await self.tariff_for(conn, cc, pid, cdr)
            zone = await self.time_zone(conn, cc, pid, (cdr.get("cdr_location") or {}).get("id"))
        check = self._compare(cdr, tariff, wanted, zone)
        async with self.store.begin() as conn:
            await self.store.cdr_checks.put(conn, check)
        if check["status"] == DISPUTE:
            log.warning("CDR %s of %s/%s disputed: %s", cdr_id, cc, pid, check["detail"])
            self.bus.publish("cdr.disputed", country_code=cc.upper(), party_id=pid.upper(), cdr_id=cdr_id,
                             difference=check["difference"])
        self.bus.publish("cdr.checked", country_code=cc.upper(), party_id=pid.upper(), cdr_id=cdr_id,
                         status=check["status"])
        return check

    def _compare(self, cdr: dict[str, Any], tariff: dict | None, wanted: str | None, zone: str) -> dict[str, Any]:
        cost = cdr.get("total_cost") or {}
        check: dict[str, Any] = {
            "country_code": cdr["country_code"], "party_id": cdr["party_id"], "cdr_id": cdr["id"],
            "currency": cdr.get("currency"), "tariff_id": (tariff or {}).get("id") or wanted,
            "claimed_excl_vat": str(money(cost.get("excl_vat", 0))),
            "claimed_incl_vat": str(money(cost["incl_vat"])) if cost.get("incl_vat") is not None else None,
            "checked_at": utcnow(),
        }
        if cdr.get("credit"):
            return {**check, "status": CREDIT, "detail": f"credit CDR of {cdr.get('credit_reference_id')}"}
        if tariff is None:
            named = f"tariff {wanted!r} is not known" if wanted else "the CDR names no tariff"
            return {**check, "status": UNCHECKED, "detail": f"{named}: cannot price it again"}
        if str(tariff.get("currency", "")).upper() != str(cdr.get("currency", "")).upper():
            return {**check, "status": UNCHECKED,
                    "detail": f"tariff in {tariff.get('currency')}, CDR in {cdr.get('currency')}"}
        if cdr.get("total_reservation_cost"):
            return {**check, "status": UNCHECKED, "detail": "reservation costs are not re-priced"}
        try:
            result = price_periods(cdr.get("charging_periods") or [], parse_datetime(cdr["start_date_time"]),
                                   parse_datetime(cdr["end_date_time"]), tariff, zone)
        except Unpriceable as exc:
            return {**check, "status": UNCHECKED, "detail": str(exc)}
        excl = MONEY.money(result.total_cost.excl_vat)
        incl = MONEY.money(result.total_cost.incl_vat) if result.total_cost.incl_vat is not None else None
        check.update(computed_excl_vat=str(excl), computed_incl_vat=str(incl) if incl is not None else None)
        diff_excl = Decimal(check["claimed_excl_vat"]) - excl
        diff_incl = (Decimal(check["claimed_incl_vat"]) - incl
                     if incl is not None and check["claimed_incl_vat"] is not None else None)
        check["difference"] = str(diff_incl if diff_incl is not None else diff_excl)
        over = abs(diff_excl) > self.threshold or (diff_incl is not None and abs(diff_incl) > self.threshold)
        currency = cdr.get("currency", "")
        if over:
            claimed = check["claimed_incl_vat"] or check["claimed_excl_vat"]
            ours = check["computed_incl_vat"] or check["computed_excl_vat"]
            detail = (f"the CPO charges {claimed} {currency}, tariff {check['tariff_id']} gives {ours} {currency} "
                      f"(difference {check['difference']})")
            return {**check, "status": DISPUTE, "detail": detail}
        return {**check, "status": OK, "detail": None}

    async def check_pending(self, limit: int = 1000) -> int:
        """Check every received CDR that has no check yet (e.g. received while no server ran the
        check); the number checked."""
        async with self.store.connect() as conn:
            pending = await self.store.cdr_checks.unchecked(conn, (self.settings.country_code,
                                                                   self.settings.party_id), limit=limit)
        for cc, pid, cdr_id in pending:
            await self.check(cc, pid, cdr_id)
        return len(pending)

    async def checks(self, *, status: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            return await self.store.cdr_checks.list(conn, status=status, limit=limit)

    async def disputes(self, limit: int = 1000) -> list[dict[str, Any]]:
        return await self.checks(status=DISPUTE, limit=limit)

"""A transaction's OCPI records: where it happens (its place, as at its start), its Session
(recomputed from every reading, stored, pushed to the eMSP of its token: a PUT at the start and
the end, PATCHes in between) and its CDR (made once, at the stop, never changed).

Meter readings refused as implausible, values a stop carried that could not be read, and a
session that could not be priced are listed on the transaction (`state["flags"]`) and said in
the CDR's `remark`: the CDR is made whatever happened, flagged rather than lost."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime
from typing import Any

from evroam.events import Bus
from evroam.model.cdrs import CDR
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.sessions import AuthMethod, Session, SessionStatus
from evroam.services import tariff_choice
from evroam.services.objects import same_id, validated
from evroam.services.plausibility import max_power_w
from evroam.services.ports import PartnerPushes
from evroam.services.pricing import Priced, price, unpriced
from evroam.services.session_facts import session_fact
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.charging import TransactionRecord

log = logging.getLogger(__name__)

MAX_LISTED = 20  # refused readings listed on a transaction (the count is kept whole)


class SessionRecords:
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.pushes = pushes

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    async def place(self, charger_id: str, evse_number: int, connector_number: int, at: datetime, *,
                    ad_hoc: bool = False) -> dict[str, Any]:
        """Where the transaction happens, as at its start: location, EVSE and connector ids, the
        CdrLocation snapshot and the tariff in force (the connector's tariff_ids; `ad_hoc`: the
        one for drivers paying ad hoc, see tariff_choice)."""
        cc, pid = self.owner
        async with self.store.connect() as conn:
            charger = await self.store.chargers.get(conn, charger_id)
            loc = await self.store.locations.get(conn, cc, pid, charger.location_id) if charger and charger.location_id else None
            evse_uid = charger.evses.get(evse_number) if charger and evse_number > 0 else None
            evse = next((e for e in (loc or {}).get("evses") or [] if same_id(e["uid"], evse_uid or "")), None)
            connectors = (evse or {}).get("connectors") or []
            if loc is None or evse is None or not connectors:
                log.warning("charger %s: EVSE %s is not mapped to one of our EVSEs", charger_id, evse_number)
                return {"currency": self.settings.currency}
            connector = connectors[connector_number - 1] if 0 < connector_number <= len(connectors) else connectors[0]
            tariff = await self._tariff(conn, connector.get("tariff_ids") or [], at, ad_hoc=ad_hoc)
        snapshot = {
            "id": loc["id"], "name": loc.get("name"), "address": loc["address"][:45], "city": loc["city"][:45],
            "postal_code": loc.get("postal_code"), "state": (loc.get("state") or "")[:20] or None,
            "country": loc["country"], "coordinates": loc["coordinates"], "evse_uid": evse["uid"],
            "evse_id": evse.get("evse_id") or evse["uid"], "connector_id": connector["id"],
            "connector_standard": connector["standard"], "connector_format": connector["format"],
            "connector_power_type": connector["power_type"],
        }
        return {
            "location_id": loc["id"], "evse_uid": evse["uid"], "connector_id": connector["id"],
            "time_zone": loc.get("time_zone") or "UTC", "cdr_location": {k: v for k, v in snapshot.items() if v is not None},
            "tariff": tariff, "currency": tariff["currency"] if tariff else self.settings.currency,
            "max_power_w": max_power_w(connector),
        }

    async def _tariff(self, conn, tariff_ids: list[str], at: datetime, *, ad_hoc: bool = False) -> dict[str, Any] | None:
        cc, pid = self.owner
        return tariff_choice.choose([await self.store.tariffs.get(conn, cc, pid, t) for t in tariff_ids], at,
                                    ad_hoc=ad_hoc)

    async def open_session(self, conn, tx: TransactionRecord) -> None:
        token = tx.state.get("token") or {}
        tx.session_id = secrets.token_hex(16)
        emsp = (token.get("country_code", ""), token.get("party_id", ""))
        partner_pk = None
        if not (same_id(emsp[0], self.owner[0]) and same_id(emsp[1], self.owner[1])):
            for partner in await self.store.partners.registered(conn):
                if partner.owns_token_party(emsp[0], emsp[1]):  # its eMSP, or the PTP of a terminal payment
                    partner_pk = partner.pk
                    break
        tx.state["partner_pk"] = partner_pk
        tx.state["emsp"] = [emsp[0].upper(), emsp[1].upper()]
        await self.refresh(conn, tx, final=False, force_push=True)

    async def refresh(self, conn, tx: TransactionRecord, *, final: bool, force_push: bool = False,
                      fallback: str | None = None) -> None:
        """Recompute the Session from every reading, store it and push it to the eMSP of its
        token: the whole Session (PUT) at the start (`force_push`) and at the end (`final`, then
        also the CDR), in between a PATCH of what changed since the last push (`_patch`).
        `fallback` (with `final`): making the records failed for this reason; make them without
        readings or tariff, flagged, so the transaction still ends in a CDR."""
        if fallback is not None:
            end = tx.stopped_at or tx.started_at
            priced = unpriced(tx.started_at, end, 0.0, [], None, error=fallback)
            tx.state.pop("tariff", None)
        else:
            readings = await self.store.transactions.readings(conn, tx.pk)
            end = tx.stopped_at if final else max([tx.started_at, *(r.timestamp for r in readings)])
            priced = price(tx.state.get("tariff"), tx.state.get("time_zone") or "UTC", readings, tx.started_at, end,
                           tx.meter_start_wh, tx.meter_stop_wh if final else None,
                           max_power_w=tx.state.get("max_power_w"), margin=self.settings.meter_power_margin)
        self._flag(tx, priced, final=final)
        if not tx.state.get("charging") and priced.kwh > 0:
            tx.state["charging"] = True
        token = tx.state.get("token") or {}
        now = utcnow()
        status = SessionStatus.COMPLETED if final else (
            SessionStatus.ACTIVE if tx.state.get("charging") else SessionStatus.PENDING)
        cc, pid = self.owner
        session: dict[str, Any] = {
            "country_code": cc, "party_id": pid, "id": tx.session_id,
            "start_date_time": format_datetime(tx.started_at), "kwh": priced.kwh,
            "cdr_token": _cdr_token(token), "auth_method": tx.state.get("auth_method", AuthMethod.WHITELIST.value),
            "location_id": tx.state["location_id"], "evse_uid": tx.state["evse_uid"],
            "connector_id": tx.state["connector_id"], "currency": tx.state["currency"],
            "charging_periods": priced.charging_periods, "status": status.value,
            "last_updated": format_datetime(now),
        }
        if final:
            session["end_date_time"] = format_datetime(tx.stopped_at)
        if tx.state.get("authorization_reference"):
            session["authorization_reference"] = tx.state["authorization_reference"]
        if priced.total_cost is not None:
            session["total_cost"] = priced.total_cost
        session = validated(Session, session, where="session").to_dict()
        emsp = tuple(tx.state.get("emsp") or ()) or None
        partner_pk = tx.state.get("partner_pk")
        tx.state["session_status"] = status.value
        patch = None if final or force_push or partner_pk is None else _patch(tx.state.get("pushed"), session)
        engine_periods = session["charging_periods"]
        if patch is not None:
            if patch:  # the eMSP's copy is the last one plus this PATCH: so is ours
                stored = await self.store.sessions.get(conn, cc, pid, tx.session_id) or {}
                session["charging_periods"] = (stored.get("charging_periods") or []) + patch.get("charging_periods", [])
                await self.store.sessions.put(conn, cc, pid, tx.session_id, session, now, emsp)
                await self.pushes.session_patch(conn, partner_pk, tx.session_id, patch)
        else:
            await self.store.sessions.put(conn, cc, pid, tx.session_id, session, now, emsp)
            if partner_pk is not None:
                await self.pushes.session_put(conn, partner_pk, session)
        if patch is None or patch:  # (the time of the last recompute too, for Sessions of our own tokens)
            tx.state["pushed_at"] = time.time()
            if partner_pk is not None:
                tx.state["pushed"] = _pushed(session, engine_periods, end)
        if final:
            await self._make_cdr(conn, tx, session, priced, now, emsp)

    async def _make_cdr(self, conn, tx: TransactionRecord, session: dict[str, Any], priced, now: datetime,
                        emsp) -> None:
        cc, pid = self.owner
        if await self.store.cdrs.get(conn, cc, pid, tx.session_id) is not None:
            return  # CDRs are immutable: made once
        zero = {"excl_vat": 0.0, "incl_vat": 0.0}
        cdr: dict[str, Any] = {
            "country_code": cc, "party_id": pid, "id": tx.session_id,
            "start_date_time": session["start_date_time"], "end_date_time": session["end_date_time"],
            "session_id": tx.session_id, "cdr_token": session["cdr_token"], "auth_method": session["auth_method"],
            "cdr_location": tx.state["cdr_location"], "currency": session["currency"],
            "charging_periods": priced.charging_periods, "total_cost": priced.total_cost or zero,
            "total_energy": priced.kwh, "total_time": priced.totals.get("total_time", 0.0),
            "last_updated": format_datetime(now),
        }
        for key in ("total_parking_time", "total_fixed_cost", "total_energy_cost", "total_time_cost",
                    "total_parking_cost", "total_reservation_cost"):
            if key in priced.totals:
                cdr[key] = priced.totals[key]
        if session.get("authorization_reference"):
            cdr["authorization_reference"] = session["authorization_reference"]
        if tx.state.get("invoice_reference_id"):  # the invoice we issue (a payment terminal's session)
            cdr["invoice_reference_id"] = tx.state["invoice_reference_id"]
        if tx.state.get("tariff"):
            cdr["tariffs"] = [tx.state["tariff"]]
        remark = _remark(tx.state)
        if remark:
            cdr["remark"] = remark
        cdr = validated(CDR, cdr, where="cdr").to_dict()
        await self.store.cdrs.insert(conn, cc, pid, tx.session_id, cdr, now, emsp)
        await self.store.statistics.add_fact(conn, session_fact(tx, cdr))  # the statistics' row of this CDR
        if tx.state.get("partner_pk") is not None:
            await self.pushes.cdr_post(conn, tx.state["partner_pk"], cdr)


    def _flag(self, tx: TransactionRecord, priced: Priced, *, final: bool) -> None:
        """Keep on the transaction what was refused in its readings (and why its pricing failed);
        say it in the log and on the bus when something new was refused."""
        flags = tx.state.setdefault("flags", {})
        before = flags.get("refused_count", 0)
        if priced.refused or before:
            flags["refused_count"] = len(priced.refused)
            flags["refused"] = [r.as_dict() for r in priced.refused[:MAX_LISTED]]
        if priced.error and (final or priced.error != flags.get("pricing_error")):
            flags["pricing_error"] = priced.error[:200]
        if len(priced.refused) > before:
            first = priced.refused[-1]
            log.warning("charger %s transaction %s: %d meter reading(s) refused as implausible, e.g. %s Wh at %s (%s)",
                        tx.charger_id, tx.transaction_id, len(priced.refused), first.wh, first.at.isoformat(),
                        first.reason)
            self.bus.publish("transaction.flagged", charger_id=tx.charger_id, transaction_id=tx.transaction_id,
                             session_id=tx.session_id, refused=len(priced.refused))
        if not flags:
            tx.state.pop("flags", None)


def _remark(state: dict[str, Any]) -> str | None:
    """The CDR's remark (OCPI: at most 255 characters) on what was not billed and why."""
    flags = state.get("flags") or {}
    parts = []
    if flags.get("pricing_error"):
        parts.append(f"not priced: {flags['pricing_error']}")
    if flags.get("refused_count"):
        stop = any(r.get("kind") == "stop" for r in flags.get("refused") or [])
        parts.append(f"{flags['refused_count']} implausible meter reading(s) not billed"
                     + (" (including the stop reading: billed up to the last plausible reading)" if stop else ""))
    if flags.get("dropped"):
        parts.append(f"{len(flags['dropped'])} unreadable meter value(s) of the stop ignored")
    if flags.get("stop_meter"):
        parts.append(flags["stop_meter"])
    text = "; ".join(parts)
    return text[:255] or None


def _cdr_token(token: dict[str, Any]) -> dict[str, Any]:
    return {"country_code": token.get("country_code", "ZZ"), "party_id": token.get("party_id", "ZZZ"),
            "uid": token.get("uid", "#NA"), "type": token.get("type", "OTHER"),
            "contract_id": token.get("contract_id", token.get("uid", "#NA"))}


def _volumes(period: dict[str, Any]) -> dict[str, float]:
    return {d["type"]: float(d["volume"]) for d in period.get("dimensions") or []}


def _pushed(session: dict[str, Any], periods: list[dict[str, Any]], until: datetime) -> dict[str, Any]:
    """What the eMSP holds after a push: the fields a PATCH compares, and per charging period of
    the tariff engine (by start and tariff) the volumes it has been told so far."""
    return {"status": session["status"], "kwh": session["kwh"], "total_cost": session.get("total_cost"),
            "until": format_datetime(until),
            "periods": [[p["start_date_time"], p.get("tariff_id"), _volumes(p)] for p in periods]}


def _patch(pushed: dict[str, Any] | None, session: dict[str, Any]) -> dict[str, Any] | None:
    """The PATCH that brings the eMSP's copy of a Session (as `pushed` describes it) to `session`:
    only the fields that changed, with `last_updated` (required in a Session PATCH); {} when
    nothing changed; None when only a PUT can (nothing pushed yet, or periods changed in a way
    appending cannot express).

    A PATCH's `charging_periods` are appended to the eMSP's list (OCPI 2.2.1 sessions module),
    so the new ones cover only the time since the last push: the growth of the engine's current
    period (starting at the end of the last push) and the periods that began since. The volumes
    of the eMSP's periods add up to the engine's; the final PUT at the stop replaces them with
    the engine's own periods."""
    if pushed is None:
        return None
    until_before = pushed["until"]
    until_at = parse_datetime(until_before)
    told = {(start, tariff): vols for start, tariff, vols in pushed["periods"]}
    last_told = (pushed["periods"][-1][0], pushed["periods"][-1][1]) if pushed["periods"] else None
    appended: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    for period in session.get("charging_periods") or []:
        key = (period["start_date_time"], period.get("tariff_id"))
        seen.add(key)
        volumes = _volumes(period)
        before = told.get(key)
        if before is None:
            if last_told is not None and parse_datetime(period["start_date_time"]) < until_at:
                return None  # a period that began before the last push, which the eMSP never saw
            delta, start = volumes, period["start_date_time"]
        else:
            if set(before) - set(volumes):
                return None
            delta = {t: round(v - before.get(t, 0.0), 4) for t, v in volumes.items()}
            if any(v < 0 for v in delta.values()):
                return None
            if any(delta.values()) and key != last_told:
                return None  # an earlier period changed (a late reading): appending cannot say it
            start = until_before
        dims = [{"type": t, "volume": v} for t, v in delta.items() if v > 0]
        if dims:
            if appended and parse_datetime(start) < parse_datetime(appended[-1]["start_date_time"]):
                return None
            entry = {"start_date_time": start, "dimensions": dims}
            if period.get("tariff_id"):
                entry["tariff_id"] = period["tariff_id"]
            appended.append(entry)
    if set(told) - seen:
        return None
    patch: dict[str, Any] = {}
    for field in ("status", "kwh", "total_cost"):
        if session.get(field) != pushed.get(field):
            if session.get(field) is None:
                return None  # a field that went away: PATCH cannot remove it
            patch[field] = session[field]
    if appended:
        patch["charging_periods"] = appended
    if patch:
        patch["last_updated"] = session["last_updated"]
    return patch

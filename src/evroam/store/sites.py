"""Load management: sites and their circuits, the OCPP charging profiles sent, what eMSPs asked
for sessions (ChargingPreferences, ChargingProfiles), the eMSP side's chargingprofiles requests,
and the read-only look at the charging side the load manager needs (latest meter readings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import (
    charging_profile_requests,
    charging_profiles_sent,
    circuits,
    ocpp_meter_values,
    ocpp_transactions,
    sites,
    smart_sessions,
)


def _json(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None


def _load(value: str | None) -> Any:
    return orjson.loads(value) if value else None


# ---------------------------------------------------------------------------- sites and circuits


@dataclass
class CircuitRecord:
    site_id: str
    id: str
    parent_id: str | None
    limit_a: float | None
    limit_kw: float | None
    phases: int
    chargers: list[str] = field(default_factory=list)


@dataclass
class SiteRecord:
    id: str
    location_id: str | None
    capacity_kw: float | None
    capacity_a: float | None
    phases: int
    voltage_v: float
    schedule: dict[str, Any] | None
    fallback_a: float | None
    chargers: list[str] = field(default_factory=list)
    circuits: list[CircuitRecord] = field(default_factory=list)
    updated_at: datetime | None = None
    start_a: float | None = None  # a new session's limit until it has its own (sent as TxDefaultProfile)


def _circuit(row: Any) -> CircuitRecord:
    return CircuitRecord(site_id=row.site_id, id=row.id, parent_id=row.parent_id, limit_a=row.limit_a,
                         limit_kw=row.limit_kw, phases=row.phases, chargers=orjson.loads(row.chargers or "[]"))


def _site(row: Any, site_circuits: list[CircuitRecord]) -> SiteRecord:
    return SiteRecord(id=row.id, location_id=row.location_id, capacity_kw=row.capacity_kw,
                      capacity_a=row.capacity_a, phases=row.phases, voltage_v=row.voltage_v,
                      schedule=_load(row.schedule), fallback_a=row.fallback_a,
                      chargers=orjson.loads(row.chargers or "[]"), circuits=site_circuits,
                      updated_at=row.updated_at, start_a=row.start_a)


class SiteRepository:
    async def get(self, conn: AsyncConnection, site_id: str) -> SiteRecord | None:
        row = (await conn.execute(select(sites).where(func.lower(sites.c.id) == site_id.lower()))).first()
        if row is None:
            return None
        rows = (await conn.execute(select(circuits).where(circuits.c.site_id == row.id)
                                   .order_by(circuits.c.pk))).all()
        return _site(row, [_circuit(r) for r in rows])

    async def list(self, conn: AsyncConnection) -> list[SiteRecord]:
        rows = (await conn.execute(select(sites).order_by(sites.c.id))).all()
        by_site: dict[str, list[CircuitRecord]] = {}
        for r in (await conn.execute(select(circuits).order_by(circuits.c.pk))).all():
            by_site.setdefault(r.site_id, []).append(_circuit(r))
        return [_site(r, by_site.get(r.id, [])) for r in rows]

    async def put(self, conn: AsyncConnection, site: SiteRecord) -> bool:
        """Create or replace a site's own settings (its circuits are kept); True when new."""
        now = utcnow()
        values = dict(location_id=site.location_id, capacity_kw=site.capacity_kw, capacity_a=site.capacity_a,
                      phases=site.phases, voltage_v=site.voltage_v, schedule=_json(site.schedule),
                      fallback_a=site.fallback_a, start_a=site.start_a, chargers=_json(list(site.chargers)),
                      updated_at=now)
        result = await conn.execute(update(sites).where(sites.c.id == site.id).values(**values))
        if result.rowcount:
            return False
        await conn.execute(sites.insert().values(id=site.id, created_at=now, **values))
        return True

    async def delete(self, conn: AsyncConnection, site_id: str) -> bool:
        await conn.execute(delete(circuits).where(circuits.c.site_id == site_id))
        return bool((await conn.execute(delete(sites).where(sites.c.id == site_id))).rowcount)

    async def put_circuit(self, conn: AsyncConnection, circuit: CircuitRecord) -> bool:
        """Create or replace a circuit; True when new."""
        now = utcnow()
        values = dict(parent_id=circuit.parent_id, limit_a=circuit.limit_a, limit_kw=circuit.limit_kw,
                      phases=circuit.phases, chargers=_json(list(circuit.chargers)), updated_at=now)
        key = and_(circuits.c.site_id == circuit.site_id, circuits.c.id == circuit.id)
        result = await conn.execute(update(circuits).where(key).values(**values))
        await conn.execute(update(sites).where(sites.c.id == circuit.site_id).values(updated_at=now))
        if result.rowcount:
            return False
        await conn.execute(circuits.insert().values(site_id=circuit.site_id, id=circuit.id, created_at=now, **values))
        return True

    async def delete_circuit(self, conn: AsyncConnection, site_id: str, circuit_id: str) -> bool:
        key = and_(circuits.c.site_id == site_id, circuits.c.id == circuit_id)
        await conn.execute(update(sites).where(sites.c.id == site_id).values(updated_at=utcnow()))
        return bool((await conn.execute(delete(circuits).where(key))).rowcount)

    async def changed_at(self, conn: AsyncConnection) -> tuple[int, datetime | None]:
        """(number of sites, newest change): cheap, to notice changes made by another process."""
        row = (await conn.execute(select(func.count(), func.max(sites.c.updated_at)).select_from(sites))).first()
        return int(row[0]), row[1]


# ---------------------------------------------------------------------------- profiles sent


@dataclass
class ProfileSent:
    pk: int
    charger_id: str
    evse_number: int
    transaction_id: str | None
    session_id: str | None
    action: str  # SET | CLEAR
    purpose: str  # TX | MAX
    unit: str | None
    limit: float | None
    limit_a: float | None
    status: str
    sent_at: datetime
    answered_at: datetime | None


def _sent(row: Any) -> ProfileSent:
    return ProfileSent(pk=row.pk, charger_id=row.charger_id, evse_number=row.evse_number,
                       transaction_id=row.transaction_id, session_id=row.session_id, action=row.action,
                       purpose=row.purpose, unit=row.unit, limit=row.limit, limit_a=row.limit_a, status=row.status,
                       sent_at=row.sent_at, answered_at=row.answered_at)


class ProfileLogRepository:
    async def add(self, conn: AsyncConnection, *, charger_id: str, evse_number: int, transaction_id: str | None,
                  session_id: str | None, action: str, purpose: str, unit: str | None, limit: float | None,
                  limit_a: float | None, status: str, sent_at: datetime, answered_at: datetime | None) -> int:
        result = await conn.execute(charging_profiles_sent.insert().values(
            charger_id=charger_id, evse_number=evse_number, transaction_id=transaction_id, session_id=session_id,
            action=action, purpose=purpose, unit=unit, limit=limit, limit_a=limit_a, status=status, sent_at=sent_at,
            answered_at=answered_at))
        return result.inserted_primary_key[0]

    async def recent(self, conn: AsyncConnection, *, charger_id: str | None = None, session_id: str | None = None,
                     limit: int = 1000) -> list[ProfileSent]:
        """The newest profiles sent (newest first)."""
        t = charging_profiles_sent.c
        query = select(charging_profiles_sent).order_by(t.pk.desc()).limit(limit)
        if charger_id is not None:
            query = query.where(t.charger_id == charger_id)
        if session_id is not None:
            query = query.where(t.session_id == session_id)
        return [_sent(r) for r in (await conn.execute(query)).all()]

    async def in_force(self, conn: AsyncConnection, transactions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ProfileSent]:
        """The last accepted TxProfile of each (charger id, transaction id) that still holds (not
        cleared since)."""
        if not transactions:
            return {}
        t = charging_profiles_sent.c
        wanted = {(c, tx) for c, tx in transactions}
        chargers = sorted({c for c, _ in wanted})
        rows = (await conn.execute(select(charging_profiles_sent).where(
            t.charger_id.in_(chargers), t.purpose == "TX", t.status == "Accepted").order_by(t.pk))).all()
        out: dict[tuple[str, str], ProfileSent] = {}
        for row in rows:
            key = (row.charger_id, row.transaction_id)
            if key not in wanted:
                continue
            if row.action == "CLEAR":
                out.pop(key, None)
            else:
                out[key] = _sent(row)
        return out


# ---------------------------------------------------------------------------- eMSP inputs (CPO side)


@dataclass
class SmartSession:
    session_id: str
    partner_pk: int | None
    preferences: dict[str, Any] | None
    profile: dict[str, Any] | None
    profile_set_at: datetime | None
    active_pushed: dict[str, Any] | None


def _smart(row: Any) -> SmartSession:
    return SmartSession(session_id=row.session_id, partner_pk=row.partner_pk, preferences=_load(row.preferences),
                        profile=_load(row.profile), profile_set_at=row.profile_set_at,
                        active_pushed=_load(row.active_pushed))


class SmartSessionRepository:
    async def get(self, conn: AsyncConnection, session_id: str) -> SmartSession | None:
        row = (await conn.execute(select(smart_sessions).where(smart_sessions.c.session_id == session_id))).first()
        return _smart(row) if row else None

    async def many(self, conn: AsyncConnection, session_ids: Sequence[str]) -> dict[str, SmartSession]:
        if not session_ids:
            return {}
        rows = (await conn.execute(select(smart_sessions).where(
            smart_sessions.c.session_id.in_(list(session_ids))))).all()
        return {r.session_id: _smart(r) for r in rows}

    async def update(self, conn: AsyncConnection, session_id: str, **values: Any) -> None:
        """Set some of: partner_pk, preferences, profile, profile_set_at, active_pushed (JSON
        fields as Python objects; None clears)."""
        row: dict[str, Any] = {"updated_at": utcnow()}
        for key, value in values.items():
            row[key] = _json(value) if key in ("preferences", "profile", "active_pushed") else value
        result = await conn.execute(update(smart_sessions).where(smart_sessions.c.session_id == session_id)
                                    .values(**row))
        if not result.rowcount:
            await conn.execute(smart_sessions.insert().values(session_id=session_id, **row))


# ---------------------------------------------------------------------------- eMSP side


@dataclass
class ProfileRequest:
    pk: int
    request_id: str | None
    partner_pk: int
    session_id: str
    kind: str  # SET | GET | CLEAR | ACTIVE
    request: Any
    response: Any
    result: Any
    created_at: datetime
    answered_at: datetime | None


def _request(row: Any) -> ProfileRequest:
    return ProfileRequest(pk=row.pk, request_id=row.request_id, partner_pk=row.partner_pk, session_id=row.session_id,
                          kind=row.kind, request=_load(row.request), response=_load(row.response),
                          result=_load(row.result), created_at=row.created_at, answered_at=row.answered_at)


class ProfileRequestRepository:
    async def create(self, conn: AsyncConnection, *, request_id: str | None, partner_pk: int, session_id: str,
                     kind: str, request: Any = None, response: Any = None, result: Any = None) -> None:
        now = utcnow()
        await conn.execute(charging_profile_requests.insert().values(
            request_id=request_id, partner_pk=partner_pk, session_id=session_id, kind=kind, request=_json(request),
            response=_json(response), result=_json(result), created_at=now,
            answered_at=now if result is not None else None))

    async def get(self, conn: AsyncConnection, request_id: str) -> ProfileRequest | None:
        row = (await conn.execute(select(charging_profile_requests).where(
            charging_profile_requests.c.request_id == request_id))).first()
        return _request(row) if row else None

    async def set_response(self, conn: AsyncConnection, request_id: str, response: Any) -> None:
        await conn.execute(update(charging_profile_requests).where(
            charging_profile_requests.c.request_id == request_id).values(response=_json(response)))

    async def set_result(self, conn: AsyncConnection, request_id: str, result: Any) -> bool:
        done = await conn.execute(update(charging_profile_requests).where(
            charging_profile_requests.c.request_id == request_id).values(result=_json(result), answered_at=utcnow()))
        return bool(done.rowcount)

    async def for_session(self, conn: AsyncConnection, partner_pk: int | None, session_id: str) -> list[ProfileRequest]:
        t = charging_profile_requests.c
        query = select(charging_profile_requests).where(t.session_id == session_id).order_by(t.pk)
        if partner_pk is not None:
            query = query.where(t.partner_pk == partner_pk)
        return [_request(r) for r in (await conn.execute(query)).all()]


# ---------------------------------------------------------------------------- the charging side, read only


@dataclass(frozen=True)
class ActiveTransaction:
    charger_id: str
    transaction_id: str
    evse_number: int
    connector_number: int
    session_id: str | None
    started_at: datetime
    meter_start_wh: float | None
    state: dict[str, Any]
    pk: int


async def active_transactions(conn: AsyncConnection, charger_ids: Sequence[str]) -> list[ActiveTransaction]:
    """The running OCPP transactions of these chargers."""
    if not charger_ids:
        return []
    t = ocpp_transactions.c
    rows = (await conn.execute(select(t.pk, t.charger_id, t.transaction_id, t.evse_number, t.connector_number,
                                      t.session_id, t.started_at, t.meter_start_wh, t.state)
                               .where(t.status == "ACTIVE", t.charger_id.in_(list(charger_ids)))
                               .order_by(t.pk))).all()
    return [ActiveTransaction(charger_id=r.charger_id, transaction_id=r.transaction_id, evse_number=r.evse_number,
                              connector_number=r.connector_number, session_id=r.session_id, started_at=r.started_at,
                              meter_start_wh=r.meter_start_wh, state=orjson.loads(r.state or "{}"), pk=r.pk)
            for r in rows]


@dataclass(frozen=True)
class LatestMeter:
    at: datetime
    power_w: float | None
    current_a: float | None  # the highest phase current
    energy_wh: float | None


async def latest_meters(conn: AsyncConnection, transaction_pks: Sequence[int]) -> dict[int, LatestMeter]:
    """The newest power, current (highest phase) and energy register reading of each transaction."""
    if not transaction_pks:
        return {}
    m = ocpp_meter_values.c
    wanted = ("Power.Active.Import", "Current.Import", "Energy.Active.Import.Register")
    newest = (select(m.transaction_pk, m.measurand, func.max(m.timestamp).label("at"))
              .where(m.transaction_pk.in_(list(transaction_pks)), m.measurand.in_(wanted))
              .group_by(m.transaction_pk, m.measurand).subquery())
    rows = (await conn.execute(select(m.transaction_pk, m.measurand, m.phase, m.timestamp, m.value).join(
        newest, and_(m.transaction_pk == newest.c.transaction_pk, m.measurand == newest.c.measurand,
                     m.timestamp == newest.c.at)))).all()
    found: dict[int, dict[str, Any]] = {}
    for pk, measurand, phase, at, value in rows:
        item = found.setdefault(pk, {"at": at})
        item["at"] = max(item["at"], at)
        if measurand == "Current.Import":
            item["current_a"] = max(item.get("current_a", 0.0), value)
        elif measurand == "Power.Active.Import":
            if phase in ("", "N"):
                item["power_w"] = value  # the total
            elif phase.startswith("L"):  # per phase (L1, L1-N, ...): summed when no total is given
                item["power_phases"] = item.get("power_phases", 0.0) + value
        elif phase == "":
            item["energy_wh"] = value
    return {pk: LatestMeter(at=v["at"], power_w=v.get("power_w", v.get("power_phases")),
                            current_a=v.get("current_a"), energy_wh=v.get("energy_wh")) for pk, v in found.items()}


async def active_with_profile(conn: AsyncConnection) -> list[str]:
    """Chargers running a session for which an eMSP set a ChargingProfile."""
    t, s = ocpp_transactions.c, smart_sessions.c
    rows = await conn.execute(select(t.charger_id).distinct().select_from(
        ocpp_transactions.join(smart_sessions, s.session_id == t.session_id))
        .where(t.status == "ACTIVE", s.profile.is_not(None)))
    return [r[0] for r in rows.all()]

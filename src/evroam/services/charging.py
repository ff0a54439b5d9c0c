"""Charging: OCPP transactions become OCPI Sessions and CDRs.

A transaction starts (1.6 StartTransaction, 2.x TransactionEvent Started), collects meter
readings (every reading stored once, whatever order and however often it arrives), and stops.
Its Session goes to the eMSP of the driver's token when it starts, every
`session_push_interval` seconds while it runs, and COMPLETED at the stop, together with the CDR:
priced by the tariff engine with the tariff in force at the start, with the transaction's own
start and stop times (so messages a charger queued while offline still price right), stored
once and never changed.

Services call this; the OCPP handlers translate messages into these calls."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from evroam.events import Bus
from evroam.model.cdrs import CDR
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.sessions import AuthMethod, Session, SessionStatus
from evroam.services.authorization import ACCEPTED, Authorization, AuthorizationService
from evroam.services.errors import Invalid
from evroam.services.objects import same_id, validated
from evroam.services.ports import PartnerPushes
from evroam.services.pricing import CURRENT, ENERGY_REGISTER, POWER, price
from evroam.services.remote_starts import RemoteStart, RemoteStartService
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.charging import Reading, TransactionRecord

log = logging.getLogger(__name__)

ACTIVE, COMPLETED = "ACTIVE", "COMPLETED"
PUSH_BATCH = 200  # Sessions recomputed and pushed in one database transaction at most


class MeterWriter:
    """Group commit of meter readings: the readings of every charger waiting while a batch is
    written go together into the next database transaction; each caller returns when its own
    readings are committed (or gets the error: then nothing was stored for it)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[int, Sequence[Reading], dict[str, Any] | None, asyncio.Future]] = []
        self._writing = False

    async def write(self, transaction_pk: int, readings: Sequence[Reading], state: dict[str, Any] | None) -> None:
        """Store readings and (unless None: unchanged) the transaction's state; return once committed."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((transaction_pk, readings, dict(state) if state is not None else None, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._drain(), name="meter-writer")
        await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._commit(batch)
                except Exception:
                    # one bad item must not fail the others: write them one by one
                    for item in batch:
                        try:
                            await self._commit([item])
                        except Exception as exc:
                            if not item[3].done():
                                item[3].set_exception(exc)
                        else:
                            if not item[3].done():
                                item[3].set_result(None)
                    continue
                for item in batch:
                    if not item[3].done():
                        item[3].set_result(None)
        finally:
            self._writing = False

    async def _commit(self, batch) -> None:
        async with self.store.begin() as conn:
            await self.store.transactions.add_many_readings(
                conn, [(pk, readings) for pk, readings, _, _ in batch],
                [(pk, state) for pk, _, state, _ in batch])


class ChargingService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes,
                 authorization: AuthorizationService) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.pushes = pushes
        self.authorization = authorization
        self._locks: dict[str, asyncio.Lock] = {}
        self.remote_starts = RemoteStartService(store, bus)
        self._meter_writer = MeterWriter(store)
        # Active transactions, as last stored, for their next meter values (no database read
        # per MeterValues). Every other change of a transaction goes through this service under
        # the charger's lock and drops its entry first.
        self._open: dict[tuple[str, str], TransactionRecord] = {}
        # Session pushes on a timer: (charger, transaction) -> the timer of its next push, and
        # the transactions with readings not pushed yet.
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._push_tasks: set[asyncio.Task] = set()
        self._due: list[tuple[str, str]] = []
        self._pusher: asyncio.Task | None = None

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    def _lock(self, charger_id: str) -> asyncio.Lock:
        return self._locks.setdefault(charger_id, asyncio.Lock())

    def _forget(self, charger_id: str, transaction_id: str | None) -> None:
        if transaction_id is not None:
            self._open.pop((charger_id, str(transaction_id)), None)

    async def close(self) -> None:
        """Stop the session push timers (what they would push is stored: the next start of the
        service pushes it with the transaction's next reading or its stop)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._push_tasks:
            await asyncio.gather(*list(self._push_tasks), return_exceptions=True)

    # ------------------------------------------------------------------ remote starts

    async def expect_remote_start(self, charger_id: str, *, id_tag: str, token: dict[str, Any],
                                  authorization_reference: str | None = None, remote_start_id: int | None = None,
                                  evse_number: int | None = None) -> RemoteStart:
        """Announce a start requested through a command, before asking the charger
        (RemoteStartTransaction / RequestStartTransaction): the transaction that follows (same
        charger and idTag, or the same remoteStartId) gets a Session with auth_method COMMAND and
        this authorization reference. Stored: it holds across a restart (services/remote_starts.py)."""
        return await self.remote_starts.expect(charger_id, id_tag=id_tag, token=token,
                                               authorization_reference=authorization_reference,
                                               remote_start_id=remote_start_id, evse_number=evse_number)

    # ------------------------------------------------------------------ transactions

    async def get_transaction(self, charger_id: str, transaction_id: str) -> TransactionRecord | None:
        async with self.store.connect() as conn:
            return await self.store.transactions.get(conn, charger_id, str(transaction_id))

    async def active_transaction(self, charger_id: str, evse_number: int) -> TransactionRecord | None:
        async with self.store.connect() as conn:
            found = [t for t in await self.store.transactions.active(conn, charger_id) if t.evse_number == evse_number]
        return found[-1] if found else None

    async def start_transaction(
        self, charger_id: str, *, evse_number: int, connector_number: int = 1, id_tag: str | None,
        started_at: datetime, meter_start_wh: float | None = None, transaction_id: str | None = None,
        start_key: str | None = None, token_type: str | None = None, authorization: Authorization | None = None,
        authorization_reference: str | None = None, remote_start_id: int | None = None, charging: bool = True,
        readings: Sequence[Reading] = (), seq_no: int | None = None,
    ) -> tuple[TransactionRecord, Authorization | None]:
        """Start (or find again) a transaction. OCPP 1.6 passes `start_key` and no
        `transaction_id` (we allocate an integer; a resent StartTransaction with the same key
        gets the same id); 2.x passes the charger's `transaction_id`. The idTag is authorized
        here unless `authorization` is given (or the start was announced by
        `expect_remote_start`, or `authorization_reference` is given for a command's start). An
        idTag may also come later (`authorize_transaction`), as 2.x allows. `charging` False
        keeps the Session PENDING until energy flows."""
        async with self._lock(charger_id):
            async with self.store.connect() as conn:
                existing = None
                if transaction_id is not None:
                    existing = await self.store.transactions.get(conn, charger_id, str(transaction_id))
                elif start_key is not None:
                    existing = await self.store.transactions.by_start_key(conn, charger_id, start_key)
            if existing is not None:
                self._forget(charger_id, existing.transaction_id)
                if readings:
                    await self._add_readings(existing, readings, seq_no=seq_no)
                return existing, _decision_of(existing)
            # the expectation this start belongs to (marked used in the transaction that stores it)
            remote = await self.remote_starts.find(charger_id, id_tag, remote_start_id)
            if remote is not None:
                authorization = Authorization(ACCEPTED, remote.token, AuthMethod.COMMAND,
                                              authorization_reference or remote.authorization_reference,
                                              decided_by="command")
                id_tag = id_tag or remote.id_tag
            place = await self._place(charger_id, evse_number, connector_number, started_at)
            if authorization is None and id_tag:
                authorization = self.authorization.remembered(charger_id, id_tag) or await self.authorization.authorize(
                    id_tag, token_type=token_type, charger_id=charger_id, location_id=place.get("location_id"),
                    evse_uids=[place["evse_uid"]] if place.get("evse_uid") else None)
            if authorization is not None and authorization_reference and remote is None:
                authorization.authorization_reference = authorization_reference
            state: dict[str, Any] = {**place, "remote_start_id": remote_start_id, "seq": [],
                                     "charging": charging, "id_token_type": token_type}
            _put_decision(state, authorization)
            async with self.store.begin() as conn:
                tx = await self.store.transactions.create(
                    conn, charger_id=charger_id, transaction_id=transaction_id, start_key=start_key,
                    evse_number=evse_number, connector_number=connector_number, id_tag=id_tag,
                    started_at=started_at, meter_start_wh=meter_start_wh, status=ACTIVE, state=state)
                if remote is not None:
                    await self.remote_starts.used(conn, remote)
                if seq_no is not None:
                    tx.state["seq"].append(seq_no)
                if readings:
                    await self.store.transactions.add_readings(conn, tx.pk, readings)
                if authorization is not None and authorization.accepted and place.get("evse_uid"):
                    await self._open_session(conn, tx)
                await self.store.transactions.update(conn, tx.pk, state=tx.state, session_id=tx.session_id)
            self._published(tx, "session.started")
            return tx, authorization

    async def authorize_transaction(self, charger_id: str, transaction_id: str, id_tag: str, *,
                                    token_type: str | None = None) -> Authorization:
        """An idTag given after the transaction started (2.x): authorize it; when accepted,
        the Session starts (with the transaction's start time)."""
        tx = await self.get_transaction(charger_id, transaction_id)
        if tx is None:
            raise Invalid(f"transaction {transaction_id!r} of {charger_id} is unknown")
        if tx.session_id is not None:
            return _decision_of(tx)
        decision = self.authorization.remembered(charger_id, id_tag) or await self.authorization.authorize(
            id_tag, token_type=token_type, charger_id=charger_id, location_id=tx.state.get("location_id"),
            evse_uids=[tx.state["evse_uid"]] if tx.state.get("evse_uid") else None)
        async with self._lock(charger_id):
            self._forget(charger_id, transaction_id)
            async with self.store.begin() as conn:
                tx = await self.store.transactions.get(conn, charger_id, str(transaction_id))
                _put_decision(tx.state, decision)
                if decision.accepted and tx.session_id is None and tx.state.get("evse_uid"):
                    await self._open_session(conn, tx)
                await self.store.transactions.update(conn, tx.pk, id_tag=id_tag, state=tx.state,
                                                     session_id=tx.session_id)
        self._published(tx, "session.started")
        return decision

    async def add_readings(self, charger_id: str, transaction_id: str, readings: Sequence[Reading], *,
                           charging: bool | None = None, seq_no: int | None = None) -> TransactionRecord | None:
        """Meter readings of a transaction (any order, resent ones ignored). Returns once they are
        committed (with those of other chargers: group commit). The Session follows on a timer:
        its kWh, periods and cost are recomputed and pushed at most once per
        `session_push_interval` (`_schedule_push`), not per reading."""
        async with self._lock(charger_id):
            key = (charger_id, str(transaction_id))
            tx = self._open.pop(key, None) or await self.get_transaction(charger_id, transaction_id)
            if tx is None:
                log.warning("charger %s sent meter values of unknown transaction %s", charger_id, transaction_id)
                return None
            started = bool(charging) and not tx.state.get("charging")
            if started:
                tx.state["charging"] = True
            await self._add_readings(tx, readings, seq_no=seq_no, changed=started)
            if tx.status == ACTIVE:  # stored as it is now: kept for the next ones
                if len(self._open) >= 100_000:
                    self._open.clear()
                self._open[key] = tx
            self._publish_meter(tx, readings)
            return tx

    async def _add_readings(self, tx: TransactionRecord, readings: Sequence[Reading], *, seq_no: int | None,
                            changed: bool = False) -> None:
        """Store readings (and the state when it changed) in the next group commit; returns once
        committed, so nothing acknowledged to the charger can be lost. A Session's push is
        scheduled: at once when it starts charging (PENDING -> ACTIVE), else at the interval."""
        if seq_no is not None and seq_no not in tx.state.setdefault("seq", []):
            tx.state["seq"].append(seq_no)
            changed = True
        try:
            await self._meter_writer.write(tx.pk, readings, tx.state if changed else None)
        except Exception:
            self._forget(tx.charger_id, tx.transaction_id)
            raise
        if tx.session_id is not None and tx.status == ACTIVE and (readings or changed):
            key = (tx.charger_id, tx.transaction_id)
            self._dirty.add(key)
            self._schedule_push(key, tx, now=_starts_charging(tx))

    # ------------------------------------------------------------------ session pushes on a timer

    def _schedule_push(self, key: tuple[str, str], tx: TransactionRecord, *, now: bool = False) -> None:
        """Arm the transaction's push timer, unless armed: due `session_push_interval` seconds
        after its last push (at once with `now`). One timer per active Session; no polling."""
        timer = self._timers.get(key)
        delay = 0.0 if now else max(0.0, tx.state.get("pushed_at", 0.0) + self.settings.session_push_interval
                                    - time.time())
        if timer is not None:
            if not now:
                return
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._push_due, key)

    def _push_due(self, key: tuple[str, str]) -> None:
        """A push timer fired: the Session joins the next batch of pushes."""
        self._timers.pop(key, None)
        self._due.append(key)
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.get_running_loop().create_task(self._push_batches(), name="session-pusher")
            self._push_tasks.add(self._pusher)
            self._pusher.add_done_callback(self._push_tasks.discard)

    async def _push_batches(self) -> None:
        """Push the Sessions that are due, many in one database transaction (timers that fire
        together, or while a batch is written, go together: one write instead of one each)."""
        while self._due:
            await asyncio.sleep(0)
            keys = list(dict.fromkeys(self._due))
            self._due = keys[PUSH_BATCH:]
            try:
                await self._push_many(keys[:PUSH_BATCH])
            except Exception:
                log.exception("pushing sessions failed")

    async def _push_many(self, keys: list[tuple[str, str]]) -> None:
        """Recompute Sessions from their readings, store them and push what changed to their eMSPs.
        Each transaction's charger lock is held meanwhile; a charger busy with something else
        (meter values being stored, a stop) is retried a moment later."""
        loop = asyncio.get_running_loop()
        held: list[asyncio.Lock] = []
        batch: list[tuple[tuple[str, str], TransactionRecord]] = []
        try:
            for key in keys:
                if key not in self._dirty or key in self._timers:
                    continue  # pushed meanwhile (e.g. by the stop), or already waiting again
                lock = self._lock(key[0])
                if lock.locked():
                    self._timers[key] = loop.call_later(0.05, self._push_due, key)
                    continue
                await lock.acquire()  # free: taken at once
                held.append(lock)
                tx = self._open.pop(key, None) or await self.get_transaction(*key)
                if tx is None or tx.status != ACTIVE or tx.session_id is None:
                    self._dirty.discard(key)
                    continue
                due = tx.state.get("pushed_at", 0.0) + self.settings.session_push_interval - time.time()
                if due > 0.001 and not _starts_charging(tx):
                    self._open[key] = tx
                    self._schedule_push(key, tx)  # pushed meanwhile: the next one at the interval
                    continue
                batch.append((key, tx))
            if not batch:
                return
            stored = [dict(tx.state) for _, tx in batch]
            try:
                async with self.store.begin() as conn:
                    for _, tx in batch:
                        await self._push_one(conn, tx)
                done = batch
            except Exception:  # one bad Session must not hold the others back: one by one
                for (_, tx), state in zip(batch, stored, strict=True):
                    tx.state = state  # as stored: the batch was rolled back
                done = []
                for key, tx in batch:
                    try:
                        async with self.store.begin() as conn:
                            await self._push_one(conn, tx)
                    except Exception:
                        self._forget(*key)
                        self._dirty.discard(key)
                        log.exception("charger %s: pushing the session of transaction %s failed", *key)
                    else:
                        done.append((key, tx))
            for key, tx in done:
                self._dirty.discard(key)
                self._open[key] = tx
                self._published(tx, "session.updated")
        finally:
            for lock in held:
                lock.release()

    async def _push_one(self, conn, tx: TransactionRecord) -> None:
        state = dict(tx.state)
        try:
            await self._refresh(conn, tx, final=False)
            await self.store.transactions.update(conn, tx.pk, state=tx.state)
        except Exception:
            tx.state = state  # as stored
            raise

    def _cancel_push(self, charger_id: str, transaction_id: str) -> None:
        key = (charger_id, str(transaction_id))
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._dirty.discard(key)

    def _publish_meter(self, tx: TransactionRecord, readings: Sequence[Reading]) -> None:
        """`session.meter` for load management: the newest power, current and energy of one
        MeterValues message, when it has power or current readings (no database work)."""
        power: float | None = None
        phase_power: dict[str, float] = {}
        current: float | None = None
        energy: float | None = None
        at = None
        for r in readings:
            if r.measurand == POWER:
                if at is None or r.timestamp >= at:
                    at = r.timestamp
                if r.phase == "":
                    power = r.value
                else:
                    phase_power[r.phase] = r.value
            elif r.measurand == CURRENT:
                if at is None or r.timestamp >= at:
                    at = r.timestamp
                current = r.value if current is None else max(current, r.value)
            elif r.measurand == ENERGY_REGISTER and r.phase == "":
                energy = r.value if energy is None else max(energy, r.value)
        if at is None:
            return
        if power is None and phase_power:
            power = sum(phase_power.values())
        self.bus.publish("session.meter", charger_id=tx.charger_id, evse_number=tx.evse_number,
                         connector_number=tx.connector_number, transaction_id=tx.transaction_id,
                         session_id=tx.session_id, power_w=power, current_a=current, energy_wh=energy,
                         at=format_datetime(at))

    async def stop_transaction(self, charger_id: str, transaction_id: str, *, stopped_at: datetime,
                               meter_stop_wh: float | None = None, readings: Sequence[Reading] = (),
                               reason: str | None = None, seq_no: int | None = None) -> TransactionRecord | None:
        """Stop a transaction: the Session becomes COMPLETED and its CDR is made; both are
        pushed at once. A stop of a transaction we never saw is logged and ignored (None); a
        stop sent again changes nothing."""
        async with self._lock(charger_id):
            self._forget(charger_id, transaction_id)
            self._cancel_push(charger_id, transaction_id)
            tx = await self.get_transaction(charger_id, transaction_id)
            if tx is None:
                log.warning("charger %s stopped transaction %s, which we never saw", charger_id, transaction_id)
                self.bus.publish("transaction.unknown", charger_id=charger_id, transaction_id=str(transaction_id))
                return None
            if tx.status == COMPLETED:
                return tx
            async with self.store.begin() as conn:
                if seq_no is not None and seq_no not in tx.state.setdefault("seq", []):
                    tx.state["seq"].append(seq_no)
                await self.store.transactions.add_readings(conn, tx.pk, readings)
                if meter_stop_wh is None:
                    energy = [r.value for r in await self.store.transactions.readings(conn, tx.pk)
                              if r.measurand == ENERGY_REGISTER and r.phase == "" and r.timestamp <= stopped_at]
                    meter_stop_wh = max(energy) if energy else tx.meter_start_wh
                tx.status, tx.stopped_at, tx.meter_stop_wh = COMPLETED, max(stopped_at, tx.started_at), meter_stop_wh
                tx.state["stop_reason"] = reason
                if tx.session_id is not None:
                    await self._refresh(conn, tx, final=True)
                await self.store.transactions.update(conn, tx.pk, status=COMPLETED, stopped_at=tx.stopped_at,
                                                     meter_stop_wh=meter_stop_wh, state=tx.state)
            self._published(tx, "session.completed")
            if tx.session_id is not None:
                self.bus.publish("cdr.created", cdr_id=tx.session_id, charger_id=charger_id)
            return tx

    # ------------------------------------------------------------------ sessions and CDRs

    async def _place(self, charger_id: str, evse_number: int, connector_number: int, at: datetime) -> dict[str, Any]:
        """Where the transaction happens, as at its start: location, EVSE and connector ids, the
        CdrLocation snapshot and the tariff in force (the connector's tariff_ids)."""
        cc, pid = self.owner
        async with self.store.connect() as conn:
            charger = await self.store.chargers.get(conn, charger_id)
            loc = await self.store.locations.get(conn, cc, pid, charger.location_id) if charger and charger.location_id else None
            evse_uid = charger.evses.get(evse_number) if charger else None
            evse = next((e for e in (loc or {}).get("evses") or [] if same_id(e["uid"], evse_uid or "")), None)
            if loc is None or evse is None:
                log.warning("charger %s: EVSE %s is not mapped to one of our EVSEs", charger_id, evse_number)
                return {"currency": self.settings.currency}
            connectors = evse.get("connectors") or []
            connector = connectors[connector_number - 1] if 0 < connector_number <= len(connectors) else connectors[0]
            tariff = await self._tariff(conn, connector.get("tariff_ids") or [], at)
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
        }

    async def _tariff(self, conn, tariff_ids: list[str], at: datetime) -> dict[str, Any] | None:
        cc, pid = self.owner
        candidates = []
        for tariff_id in tariff_ids:
            tariff = await self.store.tariffs.get(conn, cc, pid, tariff_id)
            if tariff is None:
                continue
            starts, ends = tariff.get("start_date_time"), tariff.get("end_date_time")
            if starts and parse_datetime(starts) > at or ends and parse_datetime(ends) <= at:
                continue
            candidates.append(tariff)
        # a REGULAR tariff (or one without type) is what a driver without preferences pays
        regular = [t for t in candidates if t.get("type") in (None, "REGULAR")]
        return (regular or candidates or [None])[0]

    async def _open_session(self, conn, tx: TransactionRecord) -> None:
        token = tx.state.get("token") or {}
        tx.session_id = secrets.token_hex(16)
        emsp = (token.get("country_code", ""), token.get("party_id", ""))
        partner_pk = None
        if not (same_id(emsp[0], self.owner[0]) and same_id(emsp[1], self.owner[1])):
            for partner in await self.store.partners.registered(conn):
                if partner.owns(emsp[0], emsp[1], "EMSP"):
                    partner_pk = partner.pk
                    break
        tx.state["partner_pk"] = partner_pk
        tx.state["emsp"] = [emsp[0].upper(), emsp[1].upper()]
        await self._refresh(conn, tx, final=False, force_push=True)

    async def _refresh(self, conn, tx: TransactionRecord, *, final: bool, force_push: bool = False) -> None:
        """Recompute the Session from every reading, store it and push it to the eMSP of its
        token: the whole Session (PUT) at the start (`force_push`) and at the end (`final`, then
        also the CDR), in between a PATCH of what changed since the last push (`_patch`)."""
        readings = await self.store.transactions.readings(conn, tx.pk)
        end = tx.stopped_at if final else max([tx.started_at, *(r.timestamp for r in readings)])
        priced = price(tx.state.get("tariff"), tx.state.get("time_zone") or "UTC", readings, tx.started_at, end,
                       tx.meter_start_wh, tx.meter_stop_wh if final else None)
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
        if tx.state.get("tariff"):
            cdr["tariffs"] = [tx.state["tariff"]]
        cdr = validated(CDR, cdr, where="cdr").to_dict()
        await self.store.cdrs.insert(conn, cc, pid, tx.session_id, cdr, now, emsp)
        if tx.state.get("partner_pk") is not None:
            await self.pushes.cdr_post(conn, tx.state["partner_pk"], cdr)

    def _published(self, tx: TransactionRecord, topic: str) -> None:
        if tx.session_id:
            self.bus.publish(topic, session_id=tx.session_id, charger_id=tx.charger_id,
                             transaction_id=tx.transaction_id, evse_number=tx.evse_number,
                             connector_number=tx.connector_number)
        self.bus.publish("outbox.enqueued")

    # ------------------------------------------------------------------ reading

    async def get_session(self, session_id: str) -> dict[str, Any] | None:
        cc, pid = self.owner
        async with self.store.connect() as conn:
            return await self.store.sessions.get(conn, cc, pid, session_id)

    async def get_cdr(self, cdr_id: str) -> dict[str, Any] | None:
        cc, pid = self.owner
        async with self.store.connect() as conn:
            return await self.store.cdrs.get(conn, cc, pid, cdr_id)


def _cdr_token(token: dict[str, Any]) -> dict[str, Any]:
    return {"country_code": token.get("country_code", "ZZ"), "party_id": token.get("party_id", "ZZZ"),
            "uid": token.get("uid", "#NA"), "type": token.get("type", "OTHER"),
            "contract_id": token.get("contract_id", token.get("uid", "#NA"))}


def _put_decision(state: dict[str, Any], decision: Authorization | None) -> None:
    if decision is None:
        return
    state["auth_status"] = decision.status
    state["token"] = decision.token
    state["auth_method"] = decision.auth_method.value if hasattr(decision.auth_method, "value") else decision.auth_method
    state["authorization_reference"] = decision.authorization_reference


def _decision_of(tx: TransactionRecord) -> Authorization | None:
    if "auth_status" not in tx.state:
        return None
    return Authorization(tx.state["auth_status"], tx.state.get("token"),
                         AuthMethod(tx.state.get("auth_method", "WHITELIST")), tx.state.get("authorization_reference"))


def _starts_charging(tx: TransactionRecord) -> bool:
    """True when energy started to flow and the Session still shows PENDING: pushed at once."""
    return bool(tx.state.get("charging")) and tx.state.get("session_status") == SessionStatus.PENDING.value


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

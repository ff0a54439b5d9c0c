"""Charging: OCPP transactions become OCPI Sessions and CDRs.

A transaction starts (1.6 StartTransaction, 2.x TransactionEvent Started), collects meter
readings (every reading stored once, whatever order and however often it arrives), and stops.
Its Session goes to the eMSP of the driver's token when it starts, every
`session_push_interval` seconds while it runs, and COMPLETED at the stop, together with the CDR:
priced by the tariff engine with the tariff in force at the start, with the transaction's own
start and stop times (so messages a charger queued while offline still price right), stored
once and never changed.

A transaction that cannot be billed is refused visibly at its start rather than accepted and
forgotten: one on a connector/EVSE the charger's mapping does not know is stored REFUSED (the
charger is told Invalid), and an event of a transaction we never saw start, on an EVSE we do not
know, is stored as an ORPHAN (answered, never billed). Either is stored once per transaction id
and listed with its reason (`flagged`). Whatever a stop carries, the transaction ends and, when
it has a Session, its CDR is made (flagged, `session_records`, when something could not be billed).

Services call this; the OCPP handlers translate messages into these calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from evroam.events import Bus
from evroam.model.common import format_datetime, utcnow
from evroam.model.sessions import AuthMethod
from evroam.services.authorization import ACCEPTED, INVALID, Authorization, AuthorizationService
from evroam.services.errors import Invalid
from evroam.services.meter_writer import MeterWriter
from evroam.services.plausibility import check_energy, plausible_time
from evroam.services.ports import PartnerPushes
from evroam.services.pricing import CURRENT, ENERGY_REGISTER, POWER
from evroam.services.remote_starts import RemoteStart, RemoteStartService
from evroam.services.session_pushes import SessionPusher
from evroam.services.session_records import SessionRecords
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.charging import ACTIVE, COMPLETED, ORPHAN, REFUSED, Reading, TransactionRecord

log = logging.getLogger(__name__)

#: the token type of a driver paying ad hoc (by card at the EVSE): priced with the ad-hoc tariff
AD_HOC_USER = "AD_HOC_USER"


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
        self.records = SessionRecords(store, bus, settings, pushes)
        self._meter_writer = MeterWriter(store)
        # Active transactions, as last stored, for their next meter values (no database read
        # per MeterValues). Every other change of a transaction goes through this service under
        # the charger's lock and drops its entry first.
        self._open: dict[tuple[str, str], TransactionRecord] = {}
        self._max_age = timedelta(days=settings.ocpp_max_transaction_age_days)
        self.pusher = SessionPusher(self)  # Session pushes on a timer

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    def _lock(self, charger_id: str) -> asyncio.Lock:
        return self._locks.setdefault(charger_id, asyncio.Lock())

    def _forget(self, charger_id: str, transaction_id: str | None) -> None:
        if transaction_id is not None:
            self._open.pop((charger_id, str(transaction_id)), None)

    async def close(self) -> None:
        """Stop the session push timers."""
        await self.pusher.close()

    def moved_away(self, charger_id: str) -> None:
        """The charger's connection moved to another node of the platform: that node handles its
        transactions from now on (they are stored; its next reading or stop pushes the Session),
        so this one forgets what it kept of them and pushes nothing more for them."""
        for key in [k for k in self._open if k[0] == charger_id]:
            del self._open[key]
        self.pusher.forget_charger(charger_id)

    # ------------------------------------------------------------------ remote starts

    async def expect_remote_start(self, charger_id: str, *, id_tag: str, token: dict[str, Any],
                                  authorization_reference: str | None = None, remote_start_id: int | None = None,
                                  evse_number: int | None = None, data: dict[str, Any] | None = None) -> RemoteStart:
        """Announce a start requested through a command, before asking the charger
        (RemoteStartTransaction / RequestStartTransaction): the transaction that follows (same
        charger and idTag, or the same remoteStartId) gets a Session with auth_method COMMAND and
        this authorization reference. Stored: it holds across a restart (services/remote_starts.py).
        `data`: `ad_hoc` (priced with the ad-hoc tariff whatever the token's type: a driver paying
        at a payment terminal) and `invoice_reference_id` (said in the CDR)."""
        return await self.remote_starts.expect(charger_id, id_tag=id_tag, token=token,
                                               authorization_reference=authorization_reference,
                                               remote_start_id=remote_start_id, evse_number=evse_number,
                                               data=data)

    # ------------------------------------------------------------------ transactions

    async def get_transaction(self, charger_id: str, transaction_id: str) -> TransactionRecord | None:
        async with self.store.connect() as conn:
            return await self.store.transactions.get(conn, charger_id, str(transaction_id))

    async def transactions(self, *, charger_id: str | None = None, flagged: bool = False,
                           limit: int = 100) -> list[TransactionRecord]:
        """The newest transactions (`flagged`: only those never billed, REFUSED or ORPHAN, or with
        something flagged in `state["flags"]`: refused readings, unreadable stop values, a failed
        pricing, an orphan's reason)."""
        async with self.store.connect() as conn:
            return await self.store.transactions.listing(conn, charger_id=charger_id, flagged=flagged, limit=limit)

    async def flagged(self, limit: int = 100) -> list[TransactionRecord]:
        return await self.transactions(flagged=True, limit=limit)

    async def active_transaction(self, charger_id: str, evse_number: int) -> TransactionRecord | None:
        async with self.store.connect() as conn:
            found = [t for t in await self.store.transactions.active(conn, charger_id) if t.evse_number == evse_number]
        return found[-1] if found else None

    async def start_transaction(
        self, charger_id: str, *, evse_number: int | None, connector_number: int = 1, id_tag: str | None,
        started_at: datetime, meter_start_wh: float | None = None, transaction_id: str | None = None,
        start_key: str | None = None, token_type: str | None = None, authorization: Authorization | None = None,
        authorization_reference: str | None = None, remote_start_id: int | None = None, charging: bool = True,
        readings: Sequence[Reading] = (), seq_no: int | None = None, unmapped: str = REFUSED,
        orphan: str | None = None,
    ) -> tuple[TransactionRecord, Authorization | None]:
        """Start (or find again) a transaction. OCPP 1.6 passes `start_key` and no
        `transaction_id` (we allocate an integer; a resent StartTransaction with the same key
        gets the same id); 2.x passes the charger's `transaction_id`. The idTag is authorized
        here unless `authorization` is given (or the start was announced by
        `expect_remote_start`, or `authorization_reference` is given for a command's start). An
        idTag may also come later (`authorize_transaction`), as 2.x allows. `charging` False
        keeps the Session PENDING until energy flows.

        On an EVSE number the charger's mapping does not know, the transaction is stored with
        status `unmapped` (REFUSED, or ORPHAN for one we never saw start) and an Invalid
        decision, and never billed. `evse_number` None: not named yet (2.x may name the EVSE in
        a later event, `place_transaction`); no Session until it is. `orphan`: why this is a
        transaction we never saw start (flagged on it)."""
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
            flags: dict[str, Any] = {"orphan": orphan} if orphan else {}
            started_at, clock = plausible_time(started_at, utcnow(), self._max_age)
            if clock is not None:
                flags["clock"] = clock
            status = ACTIVE
            if evse_number is None:
                evse_number = await self._only_evse(charger_id)
            # the expectation this start belongs to (marked used in the transaction that stores it)
            remote = (await self.remote_starts.find(charger_id, id_tag, remote_start_id)
                      if evse_number is not None else None)
            ad_hoc = remote is not None and ((remote.token or {}).get("type") == AD_HOC_USER or
                                             bool(remote.data.get("ad_hoc")))
            place = (await self.records.place(charger_id, evse_number, connector_number, started_at, ad_hoc=ad_hoc)
                     if evse_number is not None else {"currency": self.settings.currency})
            if evse_number is not None and not place.get("evse_uid"):
                remote = None
                status = unmapped
                reason = (f"EVSE/connector {evse_number} of {charger_id} is not mapped to one of our EVSEs"
                          if evse_number > 0 else "no EVSE named")
                key = "orphan" if unmapped == ORPHAN else "rejected"
                flags[key] = f"{flags[key]}; {reason}" if key in flags else reason
                authorization = Authorization(INVALID, None, decided_by="unmapped")
                log.warning("charger %s: transaction %s %s: %s", charger_id, transaction_id or start_key,
                            "recorded as an orphan" if unmapped == ORPHAN else "refused", reason)
            if remote is not None:
                for key in ("invoice_reference_id", "terminal_payment_pk"):  # a payment terminal's start
                    if remote.data.get(key):
                        place[key] = remote.data[key]
                authorization = Authorization(ACCEPTED, remote.token, AuthMethod.COMMAND,
                                              authorization_reference or remote.authorization_reference,
                                              decided_by="command")
                id_tag = id_tag or remote.id_tag
            if authorization is None and id_tag:
                authorization = self.authorization.remembered(charger_id, id_tag) or await self.authorization.authorize(
                    id_tag, token_type=token_type, charger_id=charger_id, location_id=place.get("location_id"),
                    evse_uids=[place["evse_uid"]] if place.get("evse_uid") else None)
            if authorization is not None and authorization_reference and remote is None:
                authorization.authorization_reference = authorization_reference
            state: dict[str, Any] = {**place, "remote_start_id": remote_start_id, "seq": [],
                                     "charging": charging, "id_token_type": token_type}
            if evse_number is None:
                state["evse_pending"] = True
            if flags:
                state["flags"] = flags
            _put_decision(state, authorization)
            async with self.store.begin() as conn:
                tx = await self.store.transactions.create(
                    conn, charger_id=charger_id, transaction_id=transaction_id, start_key=start_key,
                    evse_number=evse_number or 0, connector_number=connector_number, id_tag=id_tag,
                    started_at=started_at, meter_start_wh=meter_start_wh, status=status, state=state)
                if remote is not None:
                    await self.remote_starts.used(conn, remote)
                if seq_no is not None:
                    tx.state["seq"].append(seq_no)
                if readings:
                    await self.store.transactions.add_readings(conn, tx.pk, readings)
                if status == ACTIVE and authorization is not None and authorization.accepted and place.get("evse_uid"):
                    await self.records.open_session(conn, tx)
                await self.store.transactions.update(conn, tx.pk, state=tx.state, session_id=tx.session_id)
            if flags:
                self.bus.publish("transaction.flagged", charger_id=charger_id, transaction_id=tx.transaction_id,
                                 session_id=tx.session_id, status=status)
            self._published(tx, "session.started")
            return tx, authorization

    async def _only_evse(self, charger_id: str) -> int | None:
        """The EVSE number of a charger with one EVSE mapped (a start that names none is on it)."""
        async with self.store.connect() as conn:
            charger = await self.store.chargers.get(conn, charger_id)
        return next(iter(charger.evses)) if charger is not None and len(charger.evses) == 1 else None

    async def place_transaction(self, charger_id: str, transaction_id: str, evse_number: int,
                                connector_number: int = 1) -> TransactionRecord | None:
        """The EVSE of a transaction that started without naming it (2.x): its place is set and,
        when its token was accepted, its Session starts. On an EVSE the mapping does not know,
        the transaction becomes REFUSED (never billed). A transaction placed already is left as
        it is. None when the transaction is unknown."""
        async with self._lock(charger_id):
            self._forget(charger_id, transaction_id)
            tx = await self.get_transaction(charger_id, transaction_id)
            if tx is None or not tx.state.get("evse_pending") or tx.status != ACTIVE:
                return tx
            place = await self.records.place(charger_id, evse_number, connector_number, tx.started_at)
            async with self.store.begin() as conn:
                tx.state.pop("evse_pending", None)
                tx.evse_number, tx.connector_number = evse_number, connector_number
                if not place.get("evse_uid"):
                    tx.status = REFUSED
                    tx.state.setdefault("flags", {})["rejected"] = (
                        f"EVSE/connector {evse_number} of {charger_id} is not mapped to one of our EVSEs")
                    tx.state["auth_status"] = INVALID
                else:
                    tx.state.update(place)
                    if tx.state.get("auth_status") == ACCEPTED and tx.session_id is None:
                        await self.records.open_session(conn, tx)
                await self.store.transactions.update(conn, tx.pk, status=tx.status, evse_number=evse_number,
                                                     connector_number=connector_number, state=tx.state,
                                                     session_id=tx.session_id)
        if tx.status == REFUSED:
            self.bus.publish("transaction.flagged", charger_id=charger_id, transaction_id=tx.transaction_id,
                             session_id=None, status=REFUSED)
        self._published(tx, "session.started")
        return tx

    async def authorize_transaction(self, charger_id: str, transaction_id: str, id_tag: str, *,
                                    token_type: str | None = None) -> Authorization:
        """An idTag given after the transaction started (2.x): authorize it; when accepted,
        the Session starts (with the transaction's start time)."""
        tx = await self.get_transaction(charger_id, transaction_id)
        if tx is None:
            raise Invalid(f"transaction {transaction_id!r} of {charger_id} is unknown")
        if tx.session_id is not None or tx.status in (REFUSED, ORPHAN):
            return _decision_of(tx) or Authorization(INVALID, None)
        decision = self.authorization.remembered(charger_id, id_tag) or await self.authorization.authorize(
            id_tag, token_type=token_type, charger_id=charger_id, location_id=tx.state.get("location_id"),
            evse_uids=[tx.state["evse_uid"]] if tx.state.get("evse_uid") else None)
        async with self._lock(charger_id):
            self._forget(charger_id, transaction_id)
            async with self.store.begin() as conn:
                tx = await self.store.transactions.get(conn, charger_id, str(transaction_id))
                _put_decision(tx.state, decision)
                if decision.accepted and tx.session_id is None and tx.state.get("evse_uid"):
                    await self.records.open_session(conn, tx)
                await self.store.transactions.update(conn, tx.pk, id_tag=id_tag, state=tx.state,
                                                     session_id=tx.session_id)
        self._published(tx, "session.started")
        return decision

    async def add_readings(self, charger_id: str, transaction_id: str, readings: Sequence[Reading], *,
                           charging: bool | None = None, seq_no: int | None = None) -> TransactionRecord | None:
        """Meter readings of a transaction (any order, resent ones ignored). Returns once they are
        committed (with those of other chargers: group commit). The Session follows on a timer:
        its kWh, periods and cost are recomputed and pushed at most once per
        `session_push_interval` (`session_pushes`), not per reading."""
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
            self.pusher.changed(tx)

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
                               reason: str | None = None, seq_no: int | None = None,
                               flags: dict[str, Any] | None = None) -> TransactionRecord | None:
        """Stop a transaction: the Session becomes COMPLETED and its CDR is made; both are
        pushed at once. A stop of a transaction we never saw is logged and ignored (None); a
        stop sent again changes nothing. `flags`: what the stop carried that could not be read
        (kept on the transaction, said in the CDR's remark).

        A stop is never refused for what it says about energy: an implausible meter stop (or
        none) bills up to the last plausible reading, and should making the Session and CDR fail
        whatever the reason, they are made without pricing, flagged with the reason."""
        async with self._lock(charger_id):
            self._forget(charger_id, transaction_id)
            self.pusher.cancel(charger_id, transaction_id)
            tx = await self.get_transaction(charger_id, transaction_id)
            if tx is None:
                log.warning("charger %s stopped transaction %s, which we never saw", charger_id, transaction_id)
                self.bus.publish("transaction.unknown", charger_id=charger_id, transaction_id=str(transaction_id))
                return None
            if tx.status == COMPLETED or tx.stopped_at is not None:
                return tx
            async with self.store.begin() as conn:
                if seq_no is not None and seq_no not in tx.state.setdefault("seq", []):
                    tx.state["seq"].append(seq_no)
                if flags:
                    tx.state.setdefault("flags", {}).update(flags)
                await self.store.transactions.add_readings(conn, tx.pk, readings)
                stopped_at, clock = plausible_time(stopped_at, utcnow(), self._max_age)
                if clock is not None:
                    tx.state.setdefault("flags", {})["clock_stop"] = clock
                tx.stopped_at, tx.meter_stop_wh = max(stopped_at, tx.started_at), meter_stop_wh
                tx.state["stop_reason"] = reason
                if tx.status != ACTIVE:  # REFUSED or ORPHAN: ended, never billed
                    await self.store.transactions.update(conn, tx.pk, stopped_at=tx.stopped_at,
                                                         meter_stop_wh=meter_stop_wh, state=tx.state)
                    return tx
                tx.status = COMPLETED
                if tx.state.get("evse_pending"):
                    tx.state.setdefault("flags", {})["rejected"] = "ended without naming its EVSE: not billed"
                if meter_stop_wh is None:
                    meter_stop_wh = await self._last_plausible_wh(conn, tx)
                if tx.session_id is not None:
                    await self._final_records(conn, tx)
                await self.store.transactions.update(conn, tx.pk, status=COMPLETED, stopped_at=tx.stopped_at,
                                                     meter_stop_wh=meter_stop_wh, state=tx.state)
            self._published(tx, "session.completed")
            if tx.session_id is not None:
                self.bus.publish("cdr.created", cdr_id=tx.session_id, charger_id=charger_id)
            return tx

    async def _last_plausible_wh(self, conn, tx: TransactionRecord) -> float | None:
        """The register at the stop of a transaction that did not say: its last plausible reading."""
        energy = {r.timestamp: r.value for r in await self.store.transactions.readings(conn, tx.pk)
                  if r.measurand == ENERGY_REGISTER and r.phase == "" and r.timestamp <= tx.stopped_at}
        checked = check_energy(energy.items(), start=tx.started_at, meter_start_wh=tx.meter_start_wh,
                               max_power_w=tx.state.get("max_power_w"), margin=self.settings.meter_power_margin)
        return checked.last_wh

    async def _final_records(self, conn, tx: TransactionRecord) -> None:
        """The COMPLETED Session and the CDR; should that fail, made again without pricing (flagged)."""
        state = dict(tx.state)
        try:
            async with conn.begin_nested():
                await self.records.refresh(conn, tx, final=True)
        except Exception as exc:
            log.exception("charger %s transaction %s: the CDR could not be made; made unpriced",
                          tx.charger_id, tx.transaction_id)
            tx.state = state
            await self.records.refresh(conn, tx, final=True, fallback=f"{type(exc).__name__}: {exc}"[:200])

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


def transaction_view(tx: TransactionRecord) -> dict[str, Any]:
    """A transaction as operators see it (CLI, admin API): with what is flagged on it."""
    return {"charger_id": tx.charger_id, "transaction_id": tx.transaction_id, "status": tx.status,
            "evse_number": tx.evse_number, "id_tag": tx.id_tag, "session_id": tx.session_id,
            "started_at": format_datetime(tx.started_at),
            "stopped_at": format_datetime(tx.stopped_at) if tx.stopped_at else None,
            "meter_start_wh": tx.meter_start_wh, "meter_stop_wh": tx.meter_stop_wh,
            "flags": tx.state.get("flags") or {}}


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

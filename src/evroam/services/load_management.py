"""Load management: keep every site under its limit by sending OCPP charging profiles.

The load manager plans a site (the allocator in `evroam.smartcharging` computes every running
session's limit) and sends the limits that changed to the chargers:

- when a session starts or stops ("session.started" / "session.completed"), when a car draws
  clearly less (or again more) than it was given ("session.meter"), when a site, a circuit or a
  charger changes, when an eMSP sets or clears a profile or sends charging preferences: within
  `load_replan_delay` seconds (events that come together are planned together);
- at the next change of a capacity schedule or of an eMSP's profile (a timer set for that
  instant, no polling);
- and every `load_replan_seconds`, which also picks up changes made by another process (a CLI
  command beside the server).

Rules of sending:
- A session's limit goes to its charger as a TxProfile of its EVSE (OCPP 1.6: its connector, with
  the transactionId; 2.0.1/2.1: its evseId with the transactionId), in A per phase for AC and in W
  for DC. A new limit is sent when it goes down, to or from 0, or up by more than
  `load_hysteresis_a`.
- Limits that go down are sent first, and only when the chargers have answered do the others
  (limits that go up, and the first profile of a new session) follow: at no moment are the
  limits in force above the plan's total.
- A session without a profile yet counts at its EVSE's full power, as it draws until its
  charger applies one.
- A charger that refuses profiles (Rejected, or a CALLERROR NotSupported / NotImplemented) is
  counted at the site's `fallback_a` (default: its EVSE's maximum, the safe assumption) for an
  hour, then tried again; the other sessions share what is left.
- Each charger of a site also gets a charger maximum (1.6 ChargePointMaxProfile on connector 0,
  2.x ChargingStationMaxProfile on EVSE 0): the tightest limit of the circuits that feed it.
- With a site's start limit (`start_a`), its chargers also get a TxDefaultProfile at that limit
  (connector / EVSE 0): a new session then draws at most that until its own limit arrives, and is
  planned at it instead of at full power (with 0 A, the limits in force never exceed the site,
  not even while a new session waits for its first profile; the others are not paused).
- When a session ends its TxProfile is cleared (ClearChargingProfile); when a charger leaves
  every site, its profiles are cleared too.
- An eMSP's ChargingProfile (OCPI chargingprofiles) is an upper bound of its session inside the
  plan; a session with one on a charger outside every site is planned alone under that bound.

Every profile sent is recorded with the charger's answer (`evroam sites status`, the admin API,
the benchmark)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evroam.events import Bus, Event
from evroam.model.common import parse_datetime, utcnow
from evroam.services.objects import same_id
from evroam.services.ports import (
    DEFAULT,
    MAX,
    REFUSALS,
    TX,
    CannotSay,
    ChargerCommand,
    ChargerControl,
    ChargerOffline,
    ChargerRefused,
    ChargerTimedOut,
    round_limit,
)
from evroam.services.sites import DEFAULT_VOLTAGE, SiteModel, SiteService
from evroam.settings import Settings
from evroam.smartcharging import Circuit, Demand, Plan, changed, plan
from evroam.store import Store
from evroam.store.chargers import ChargerRecord
from evroam.store.sites import (
    ActiveTransaction,
    LatestMeter,
    ProfileLogRepository,
    ProfileSent,
    SiteRecord,
    SmartSession,
    SmartSessionRepository,
    active_transactions,
    active_with_profile,
    latest_meters,
)

log = logging.getLogger(__name__)

ALL = "*"
# Events about one charger: nothing to plan when it is outside every site.
CHARGER_ONLY_TOPICS = frozenset({"session.started", "session.completed"})
REFUSAL_HOLD_SECONDS = 3600.0  # how long a charger that refused profiles is held to its fallback
DEFAULT_EVSE_A = 32.0  # an EVSE we cannot find in the location data
PRIORITY = {"FAST": 1}  # OCPI ProfileType -> allocator priority (others 0)
ACCEPTED = "Accepted"


@dataclass
class InForce:
    """A limit a charger accepted for a running transaction."""

    transaction_id: str
    session_id: str | None
    limit_a: float
    unit: str
    limit: float


@dataclass
class Session:
    """One running transaction of a planned site, with what the plan needs to know of it."""

    key: str  # "charger/evse": the demand id
    tx: ActiveTransaction
    circuit_id: str
    phases: int
    max_a: float  # the EVSE's (and the eMSP's bound, when lower)
    evse_max_a: float
    dc: bool
    voltage_v: float
    smart: SmartSession | None = None
    emsp_bound_a: float | None = None
    drawn_a: float | None = None
    energy_wh: float | None = None
    in_force: InForce | None = None
    refused: bool = False

    @property
    def unit(self) -> str:
        return "W" if self.dc else "A"

    def value(self, limit_a: float) -> float:
        """A per-phase current as a profile limit in this session's unit."""
        return limit_a * self.phases * self.voltage_v if self.dc else limit_a


@dataclass
class SitePlan:
    model: SiteModel
    now: datetime
    sessions: list[Session]
    plan: Plan
    charger_max_a: dict[str, float] = field(default_factory=dict)
    next_change: datetime | None = None


@dataclass
class Sent:
    charger_id: str
    evse_number: int
    purpose: str
    action: str
    status: str
    limit_a: float | None = None
    unit: str | None = None
    limit: float | None = None
    transaction_id: str | None = None
    session_id: str | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None


def evse_limits(location: dict[str, Any] | None, evse_uid: str | None, connector_number: int,
                voltage_v: float) -> tuple[int, float, bool]:
    """(phases, maximum current per phase, DC?) of an EVSE's connector, from the OCPI location:
    `max_electric_power`, else `max_amperage` (and for DC `max_voltage` x `max_amperage`). DC is
    counted as a 3-phase load on the grid side."""
    evse = next((e for e in (location or {}).get("evses") or [] if evse_uid and same_id(e["uid"], evse_uid)), None)
    connectors = (evse or {}).get("connectors") or []
    if not connectors:
        return 3, DEFAULT_EVSE_A, False
    connector = connectors[connector_number - 1] if 0 < connector_number <= len(connectors) else connectors[0]
    power_type = connector.get("power_type") or "AC_3_PHASE"
    power = connector.get("max_electric_power")
    amps = connector.get("max_amperage")
    if power_type == "DC":
        if not power and amps and connector.get("max_voltage"):
            power = amps * connector["max_voltage"]
        return 3, (power / (3 * voltage_v)) if power else DEFAULT_EVSE_A, True
    phases = 1 if power_type == "AC_1_PHASE" else 3
    limit = float(amps) if amps else math.inf
    if power:
        limit = min(limit, power / (phases * voltage_v))
    return phases, limit if math.isfinite(limit) else DEFAULT_EVSE_A, False


def emsp_bound(profile: dict[str, Any] | None, session_start: datetime, now: datetime, *, phases: int,
               voltage_v: float) -> tuple[float | None, datetime | None]:
    """The per-phase current an eMSP's OCPI ChargingProfile allows at `now` (None: no limit now),
    and when that changes next. W are converted with the session's phases and voltage."""
    if not profile:
        return None, None
    start = parse_datetime(profile["start_date_time"]) if profile.get("start_date_time") else session_start
    periods = sorted(profile.get("charging_profile_period") or [], key=lambda p: p["start_period"])
    if not periods:
        return None, None
    end = start + timedelta(seconds=profile["duration"]) if profile.get("duration") is not None else None
    boundaries = [start + timedelta(seconds=p["start_period"]) for p in periods] + ([end] if end else [])
    upcoming = [b for b in boundaries if b > now]
    next_change = min(upcoming) if upcoming else None
    if now < boundaries[0] or (end is not None and now >= end):
        return None, next_change
    current = periods[0]
    for p, at in zip(periods, boundaries, strict=False):
        if at <= now:
            current = p
    limit = float(current["limit"])
    if profile.get("charging_rate_unit") == "W":
        limit = limit / (phases * voltage_v)
    return limit, next_change


class LoadManager:
    def __init__(self, store: Store, bus: Bus, settings: Settings, sites: SiteService,
                 control: ChargerControl) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.sites = sites
        self.control = control
        self.log = ProfileLogRepository()
        self.smart = SmartSessionRepository()
        self.clock: Callable[[], datetime] = utcnow  # tests move time
        self._in_force: dict[tuple[str, int], InForce] = {}
        self._max_sent: dict[str, float] = {}  # charger id -> its maximum (A per phase) in force
        self._default_sent: dict[str, float] = {}  # charger id -> limit of new transactions in force
        self._refused: dict[tuple[str, str], float] = {}  # (charger id, TX | MAX) -> when it refused
        # (charger, transaction) -> (A per phase, W, Wh) of the newest "session.meter" event
        self._meters: dict[tuple[str, str], tuple[float | None, float | None, float | None]] = {}
        self._drawn_planned: dict[tuple[str, str], float] = {}
        self._site_of: dict[str, str] = {}  # charger id -> site id, as of the last round
        self._loaded = False
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.next_change: datetime | None = None
        self._site_next: dict[str, datetime | None] = {}
        self.rounds = 0
        # time the limits in force spent above a circuit's limit, per site (for /metrics)
        self._over_since: dict[str, float] = {}
        self._seconds_over: dict[str, float] = {}
        self._answers: dict[tuple[str, int], tuple[int, str]] = {}  # (charger, evse) -> (round, TxProfile answer)
        # The planner runs on one node of the platform and hears every node's events (and the
        # changes made by command-line processes, through the change feed).
        for topic in ("session.started", "session.completed", "site.changed", "charger.changed",
                      "charger.approved", "smart_session.changed"):
            bus.subscribe(topic, self._on_event, everywhere=True)
        bus.subscribe("charger.booted", self._on_boot, everywhere=True)
        bus.subscribe("session.meter", self._on_meter, everywhere=True)
        self._confirming: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Plan every site now, then on events, timers and every `load_replan_seconds`."""
        if self._task is None:
            self._stopping = False
            self._dirty.add(ALL)
            self._wake.set()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="load-manager")

    async def stop(self) -> None:
        """Stop planning (at shutdown, or when another node of the platform took the planning
        over): what this node knew of the limits in force is read again from the database if
        it plans again later."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            task, self._task = self._task, None
            task.cancel()
            await asyncio.gather(task, *self._confirming, return_exceptions=True)
            self._loaded = False
            self._in_force.clear()
            self._max_sent.clear()
            self._default_sent.clear()

    def wake(self, site_id: str = ALL) -> None:
        self._dirty.add(site_id)
        self._wake.set()

    def _on_event(self, event: Event) -> None:
        charger_id = event.data.get("charger_id")
        site_id = event.data.get("site_id") or (self._site_of.get(charger_id) if charger_id else None)
        if site_id is None and event.topic in CHARGER_ONLY_TOPICS and self._unmanaged(charger_id):
            if self._task is not None and charger_id is not None:
                # The last round saw no site for it; a change made since (in another process,
                # not heard of yet) may have added it: confirm from the database before skipping.
                task = asyncio.get_running_loop().create_task(self._confirm_unmanaged(charger_id))
                self._confirming.add(task)
                task.add_done_callback(self._confirming.discard)
            return
        self.wake(site_id or ALL)

    async def _confirm_unmanaged(self, charger_id: str) -> None:
        try:
            models = await self.sites.models()
        except Exception:
            log.exception("load management: reading the sites failed; planning every site")
            self.wake(ALL)
            return
        site_id = next((m.site.id for m in models if charger_id in m.charger_circuit), None)
        if site_id is not None:
            log.info("charger %s belongs to site %s since the last round: planning it now", charger_id, site_id)
            self._site_of[charger_id] = site_id
            self.wake(site_id)

    def _unmanaged(self, charger_id: str | None) -> bool:
        """A charger outside every site (and without an eMSP profile), as the last round saw the
        sites: its sessions and boots need no planning. Registry and site changes, which can
        make it a member, still plan every site."""
        return charger_id is not None and self.rounds > 0 and charger_id not in self._site_of

    def _on_boot(self, event: Event) -> None:
        """A charger (re)booted and was accepted: its charger-wide profiles are sent again (a
        charger that lost them must not run without its maximum), and its site is planned."""
        charger_id = event.data.get("charger_id")
        if charger_id is None or event.data.get("status") not in (None, "ACCEPTED", "Accepted"):
            return
        self._max_sent.pop(charger_id, None)
        self._default_sent.pop(charger_id, None)
        if not self._unmanaged(charger_id):
            self.wake(self._site_of.get(charger_id) or ALL)

    def _on_meter(self, event: Event) -> None:
        """A car's measured draw: planned again when it moved by more than the hysteresis from
        what the last plan used (a car taking less releases current, one ramping back gets it)."""
        data = event.data
        charger_id, tx_id = data.get("charger_id"), data.get("transaction_id")
        if charger_id is None or tx_id is None:
            return
        key = (charger_id, str(tx_id))
        current, power = data.get("current_a"), data.get("power_w")
        self._meters[key] = (current, power, data.get("energy_wh"))
        if current is None and power is not None:
            current = power / (3 * DEFAULT_VOLTAGE)  # only to decide whether to plan again
        if current is None or charger_id not in self._site_of:
            return
        planned = self._drawn_planned.get(key)
        if planned is None or abs(planned - current) > self.settings.load_hysteresis_a:
            self.wake(self._site_of[charger_id])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.settings.load_replan_seconds
        next_periodic = loop.time() + period
        while not self._stopping:
            deadline = next_periodic
            if self.next_change is not None:
                until = (self.next_change - self.clock()).total_seconds() + 0.05
                deadline = min(deadline, loop.time() + max(0.0, until))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, deadline - loop.time()))
                await asyncio.sleep(self.settings.load_replan_delay)  # plan events that come together once
            except TimeoutError:
                pass
            if self._stopping:
                break
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            if loop.time() >= next_periodic:
                next_periodic = loop.time() + period
                dirty.add(ALL)
            if self.next_change is not None and self.clock() >= self.next_change:
                dirty.add(ALL)
            if not dirty:
                continue
            try:
                again = await self.run_round(None if ALL in dirty else dirty)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("load management round failed; planned again at the next event or period")
                again = set()
            if again:
                self._dirty.update(again)
                self._wake.set()

    # ------------------------------------------------------------------ one round

    async def run_round(self, site_ids: Iterable[str] | None = None) -> set[str]:
        """Plan the given sites (None: all) and send what changed. Returns the sites to plan
        again at once (a charger accepted a first profile, or refused one)."""
        async with self._lock:
            now = self.clock()
            models = await self._models()
            self._site_of = {cid: m.site.id for m in models for cid in m.charger_circuit}
            if not self._loaded:
                await self._load_in_force(models)
            wanted = None if site_ids is None else {s.casefold() for s in site_ids}
            again: set[str] = set()
            await self._clear_unmanaged(models)
            for model in models:
                if wanted is not None and model.site.id.casefold() not in wanted:
                    continue
                site_plan = await self.plan_site(model, now)
                self._site_next[model.site.id] = site_plan.next_change
                if await self._apply(site_plan):
                    again.add(model.site.id)
                self._note_over(site_plan)
            # when a site's schedule or an eMSP's profile changes next (sites not planned this
            # round keep what their last plan said)
            known = {m.site.id for m in models}
            self._site_next = {k: v for k, v in self._site_next.items() if k in known}
            upcoming = [v for v in self._site_next.values() if v is not None]
            self.next_change = min(upcoming) if upcoming else None
            self.rounds += 1
            return again

    async def apply_session(self, session_id: str) -> str | None:
        """Plan now for a session (e.g. its eMSP just set or cleared a profile) and return the
        charger's answer to the session's profile: "Accepted" also when the limit in force
        already fits; None when the session is not running."""
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, session_id)
        if tx is None or tx.status != "ACTIVE":
            return None
        first_round = self.rounds
        await self.run_round(None)
        key = (tx.charger_id, tx.evse_number)
        answered = self._answers.get(key)
        if answered is not None and answered[0] >= first_round:
            return answered[1]
        if self._refused_now(tx.charger_id):
            return "Rejected"
        if not self.control.is_connected(tx.charger_id):
            return "Offline"
        return ACCEPTED

    async def _models(self) -> list[SiteModel]:
        models = await self.sites.models()
        managed = {cid for m in models for cid in m.charger_circuit}
        async with self.store.connect() as conn:
            alone = sorted({c for c in await active_with_profile(conn) if c not in managed})
            chargers = {c.id: c for c in await self.store.chargers.list(conn)} if alone else {}
        for charger_id in alone:  # a session with an eMSP profile at a charger outside every site
            if charger_id not in chargers:
                continue
            site_id = f"charger:{charger_id}"
            record = SiteRecord(id=site_id, location_id=None, capacity_kw=None, capacity_a=None, phases=3,
                                voltage_v=DEFAULT_VOLTAGE, schedule=None, fallback_a=None, chargers=[charger_id])
            models.append(SiteModel(site=record, circuits=[Circuit(id=site_id, parent_id=None)],
                                    charger_circuit={charger_id: site_id},
                                    chargers={charger_id: chargers[charger_id]}, alone=True))
        return models

    async def _load_in_force(self, models: list[SiteModel]) -> None:
        """After a restart: the limits chargers accepted for transactions still running."""
        chargers = sorted({cid for m in models for cid in m.charger_circuit})
        async with self.store.connect() as conn:
            txs = await active_transactions(conn, chargers)
            found = await self.log.in_force(conn, [(t.charger_id, t.transaction_id) for t in txs])
        for t in txs:
            sent = found.get((t.charger_id, t.transaction_id))
            if sent is not None and sent.limit_a is not None:
                self._in_force[(t.charger_id, t.evse_number)] = InForce(
                    t.transaction_id, t.session_id, sent.limit_a, sent.unit or "A", sent.limit or sent.limit_a)
        self._loaded = True

    def _note_over(self, site_plan: SitePlan) -> None:
        """After a round: are the limits in force (a session without one at its maximum) above a
        circuit's limit? The time they are is added up per site."""
        parents = {c.id: c.parent_id for c in site_plan.model.circuits}
        load: dict[str, float] = {}
        for s in site_plan.sessions:
            current = self.in_force(s.tx.charger_id, s.tx.evse_number, s.tx.transaction_id)
            amps = current.limit_a if current is not None else s.max_a
            circuit: str | None = s.circuit_id
            while circuit is not None:
                load[circuit] = load.get(circuit, 0.0) + amps
                circuit = parents.get(circuit)
        limits = site_plan.plan.circuit_limit_a
        over = any(amps > limits.get(cid, math.inf) + 0.05 for cid, amps in load.items())
        site, now = site_plan.model.site.id, time.monotonic()
        since = self._over_since.get(site)
        if over and since is None:
            self._over_since[site] = now
        elif not over and since is not None:
            self._seconds_over[site] = self._seconds_over.get(site, 0.0) + now - self._over_since.pop(site)

    def seconds_over_limit(self) -> dict[str, float]:
        """Per site, the seconds its limits in force spent above a circuit's limit (as the rounds
        saw them), counting the time it has been so now."""
        now = time.monotonic()
        totals = dict(self._seconds_over)
        for site, since in self._over_since.items():
            totals[site] = totals.get(site, 0.0) + now - since
        return totals

    def refuses_profiles(self, charger_id: str) -> bool:
        """Whether the charger refused a charging profile within the last hour."""
        return self._refused_now(charger_id)

    def in_force(self, charger_id: str, evse_number: int, transaction_id: str) -> InForce | None:
        """The limit a charger accepted for a running transaction (None: none yet)."""
        current = self._in_force.get((charger_id, evse_number))
        return current if current is not None and current.transaction_id == transaction_id else None

    async def manages(self, charger_id: str) -> bool:
        """Whether the charger belongs to a site."""
        return any(charger_id in m.charger_circuit for m in await self.sites.models())

    def _refused_now(self, charger_id: str, purpose: str = TX) -> bool:
        """Whether the charger refused a profile of this purpose within REFUSAL_HOLD_SECONDS (a
        charger refusing only charger maximums still takes session limits)."""
        at = self._refused.get((charger_id, purpose))
        if at is None:
            return False
        if time.monotonic() - at > REFUSAL_HOLD_SECONDS:
            del self._refused[(charger_id, purpose)]
            return False
        return True

    def _schedule_change(self, model: SiteModel, now: datetime) -> datetime | None:
        changes = [c.schedule.next_change(now) for c in model.circuits if c.schedule is not None]
        changes = [c for c in changes if c is not None]
        return min(changes) if changes else None

    # ------------------------------------------------------------------ planning

    async def plan_site(self, model: SiteModel, now: datetime, *,
                        in_force: dict[tuple[str, int], InForce] | None = None,
                        refused: Callable[[str], bool] | None = None,
                        defaults: dict[str, float] | None = None) -> SitePlan:
        """The allocator's plan for a site at `now`, from the running transactions, their EVSEs,
        meters, preferences and eMSP profiles, and the limits in force (this process's, unless
        given)."""
        in_force = self._in_force if in_force is None else in_force
        refused = refused or self._refused_now
        defaults = self._default_sent if defaults is None else defaults
        site = model.site
        voltage = site.voltage_v or DEFAULT_VOLTAGE
        async with self.store.connect() as conn:
            txs = await active_transactions(conn, sorted(model.charger_circuit))
            smart = await self.smart.many(conn, [t.session_id for t in txs if t.session_id])
            meters = await latest_meters(conn, [t.pk for t in txs])
            locations: dict[str, dict[str, Any] | None] = {}
            cc, pid = self.settings.country_code, self.settings.party_id
            for charger in model.chargers.values():
                if charger.location_id and charger.location_id not in locations:
                    locations[charger.location_id] = await self.store.locations.get(conn, cc, pid,
                                                                                    charger.location_id)
        sessions: list[Session] = []
        demands = []
        next_changes: list[datetime] = []
        nxt = self._schedule_change(model, now)
        if nxt:
            next_changes.append(nxt)
        for tx in txs:
            charger: ChargerRecord | None = model.chargers.get(tx.charger_id)
            location = locations.get(charger.location_id) if charger and charger.location_id else None
            evse_uid = (charger.evses.get(tx.evse_number) if charger else None) or tx.state.get("evse_uid")
            phases, evse_max_a, dc = evse_limits(location, evse_uid, tx.connector_number, voltage)
            s = Session(key=f"{tx.charger_id}/{tx.evse_number}", tx=tx,
                        circuit_id=model.charger_circuit.get(tx.charger_id, site.id), phases=phases,
                        max_a=evse_max_a, evse_max_a=evse_max_a, dc=dc, voltage_v=voltage,
                        smart=smart.get(tx.session_id) if tx.session_id else None)
            if s.smart is not None and s.smart.profile:
                bound, change = emsp_bound(s.smart.profile, tx.started_at, now, phases=phases, voltage_v=voltage)
                s.emsp_bound_a = bound
                if bound is not None:
                    s.max_a = min(s.max_a, bound)
                if change is not None:
                    next_changes.append(change)
            current = in_force.get((tx.charger_id, tx.evse_number))
            s.in_force = current if current is not None and current.transaction_id == tx.transaction_id else None
            meter: LatestMeter | None = meters.get(tx.pk)
            live = self._meters.get((tx.charger_id, tx.transaction_id))
            current = live[0] if live and live[0] is not None else (meter.current_a if meter else None)
            power = live[1] if live and live[1] is not None else (meter.power_w if meter else None)
            s.drawn_a = current if current is not None else (power / (phases * voltage) if power is not None else None)
            s.energy_wh = live[2] if live and live[2] is not None else (meter.energy_wh if meter else None)
            s.refused = refused(tx.charger_id)
            demands.append(self._demand(s, site, now, defaults.get(tx.charger_id)))
            sessions.append(s)
        result = plan(model.circuits, demands, now)
        charger_max = {}
        for charger_id, circuit_id in model.charger_circuit.items():
            tightest = _path_limit(result.circuit_limit_a, model.circuits, circuit_id)
            if math.isfinite(tightest):
                charger_max[charger_id] = tightest
        return SitePlan(model=model, now=now, sessions=sessions, plan=result, charger_max_a=charger_max,
                        next_change=min(next_changes) if next_changes else None)

    def _demand(self, s: Session, site: SiteRecord, now: datetime, start_a: float | None):
        prefs = (s.smart.preferences if s.smart else None) or {}
        departure = parse_datetime(prefs["departure_time"]) if prefs.get("departure_time") else None
        need = prefs.get("energy_need")
        if need is not None and s.energy_wh is not None and s.tx.meter_start_wh is not None:
            need = max(0.0, need - (s.energy_wh - s.tx.meter_start_wh) / 1000.0)
        fixed = None
        if s.refused:
            fixed = min(site.fallback_a, s.evse_max_a) if site.fallback_a else s.evse_max_a
        return Demand(
            id=s.key, circuit_id=s.circuit_id, phases=s.phases, max_a=max(0.0, s.max_a),
            priority=PRIORITY.get(prefs.get("profile_type") or "", 0), arrived_at=s.tx.started_at,
            departure=departure, energy_need_kwh=need, drawn_a=s.drawn_a,
            profiled=s.in_force is not None or s.refused, fixed_a=fixed,
            allocated_a=s.in_force.limit_a if s.in_force else None,
            unprofiled_a=start_a)  # the charger's TxDefaultProfile holds a new session at this

    # ------------------------------------------------------------------ sending

    async def _apply(self, site_plan: SitePlan) -> bool:
        """Send what changed (limits going down first); True when the site should be planned
        again at once (a first profile accepted, or a charger refusing)."""
        hysteresis = self.settings.load_hysteresis_a
        control = self.control
        first: list[tuple[Session, float]] = []  # profiled sessions whose limit goes down
        then: list[tuple[Session, float]] = []  # the rest: first profiles, increases
        sendable: list[Session] = []
        for s in site_plan.sessions:
            if s.drawn_a is not None:
                self._drawn_planned[(s.tx.charger_id, s.tx.transaction_id)] = s.drawn_a
            if not s.refused and control.is_connected(s.tx.charger_id):
                sendable.append(s)
        new_limits = {s.key: round_limit(site_plan.plan.limits_a.get(s.key, 0.0)) for s in sendable}
        old_limits = {s.key: s.in_force.limit_a for s in sendable if s.in_force}
        to_send = changed(old_limits, new_limits, hysteresis)
        for s in sendable:
            if s.key in to_send:
                new, old = new_limits[s.key], old_limits.get(s.key)
                (first if old is not None and new < old - 1e-9 else then).append((s, new))
        max_first: list[tuple[str, float]] = []
        max_then: list[tuple[str, float]] = []
        accepted = {cid for cid, c in site_plan.model.chargers.items() if c.status == "ACCEPTED"}
        for charger_id, limit in site_plan.charger_max_a.items():
            if (charger_id not in accepted or not control.is_connected(charger_id)
                    or self._refused_now(charger_id, MAX)):
                continue
            limit = round_limit(limit)
            old = self._max_sent.get(charger_id)
            if old is None or limit - old > hysteresis + 1e-9:
                max_then.append((charger_id, limit))
            elif limit < old - 1e-9:
                max_first.append((charger_id, limit))
        # the limit new transactions start at (TxDefaultProfile): set before, cleared after the rest
        start = site_plan.model.site.start_a
        default_set: list[tuple[str, float]] = []
        default_clear: list[str] = []
        for charger_id in site_plan.model.charger_circuit:
            if (charger_id not in accepted or not control.is_connected(charger_id)
                    or self._refused_now(charger_id, DEFAULT)):
                continue
            old = self._default_sent.get(charger_id)
            if start is not None and (old is None or abs(old - start) > 1e-9):
                default_set.append((charger_id, start))
            elif start is None and old is not None:
                default_clear.append(charger_id)
        again = False
        for tx_batch, max_batch, defaults, clears in ((first, max_first, default_set, []),
                                                      (then, max_then, [], default_clear)):
            if not tx_batch and not max_batch and not defaults and not clears:
                continue
            results = await asyncio.gather(
                *(self._send_tx(s, limit) for s, limit in tx_batch),
                *(self._send_charger(site_plan.model, cid, MAX, limit) for cid, limit in max_batch),
                *(self._send_charger(site_plan.model, cid, DEFAULT, limit) for cid, limit in defaults),
                *(self._clear_charger(cid, DEFAULT) for cid in clears))
            await self._record(results)
            for (s, _), sent in zip(tx_batch, results, strict=False):
                if sent.status == ACCEPTED and s.in_force is None:
                    again = True  # it no longer counts at full power: the others may get more
                if sent.status in REFUSALS:
                    again = True
            if any(r.purpose == DEFAULT and r.status in (ACCEPTED, *REFUSALS) for r in results):
                again = True  # sessions not profiled yet count differently now
        return again

    async def _call(self, charger_id: str, command: ChargerCommand, purpose: str | None = None
                    ) -> tuple[str, datetime]:
        try:
            answer = await self.control.send(charger_id, command, timeout=self.settings.load_profile_timeout)
            status = answer.status or "Failed"
        except ChargerOffline:
            status = "Offline"
        except ChargerTimedOut:
            status = "Timeout"
        except ChargerRefused as exc:
            status = "NotSupported" if exc.code in ("NotSupported", "NotImplemented") else "Error"
            log.info("charger %s answered a charging profile with %s: %s", charger_id, exc.code, exc.description)
        except CannotSay as exc:
            log.warning("charger %s: cannot send a charging profile: %s", charger_id, exc.message)
            status = "Error"
        if status in REFUSALS and purpose is not None:
            self._refused[(charger_id, purpose)] = time.monotonic()
        return status, self.clock()

    async def _send_tx(self, s: Session, limit_a: float) -> Sent:
        tx = s.tx
        value = round_limit(s.value(limit_a))
        sent_at = self.clock()
        status, answered = await self._call(tx.charger_id, ChargerCommand("set_tx_profile", {
            "evse_number": tx.evse_number, "transaction_id": tx.transaction_id, "unit": s.unit, "limit": value,
            "number_phases": None if s.dc else s.phases}), TX)
        self._answers[(tx.charger_id, tx.evse_number)] = (self.rounds, status)
        if status == ACCEPTED:
            self._in_force[(tx.charger_id, tx.evse_number)] = InForce(tx.transaction_id, tx.session_id, limit_a,
                                                                      s.unit, value)
            if tx.session_id:
                self.bus.publish("load.limit", session_id=tx.session_id, charger_id=tx.charger_id,
                                 evse_number=tx.evse_number, unit=s.unit, limit=value, limit_a=limit_a)
        log.info("charger %s EVSE %s (transaction %s): limit %.1f %s -> %s", tx.charger_id, tx.evse_number,
                 tx.transaction_id, value, s.unit, status)
        return Sent(tx.charger_id, tx.evse_number, TX, "SET", status, limit_a, s.unit, value,
                    tx.transaction_id, tx.session_id, sent_at, answered)

    async def _send_charger(self, model: SiteModel, charger_id: str, purpose: str, limit_a: float) -> Sent:
        """A charger-wide profile: its maximum (MAX) or the limit of new transactions (DEFAULT)."""
        charger = model.chargers.get(charger_id)
        dc = False
        if charger is not None and charger.location_id:
            cc, pid = self.settings.country_code, self.settings.party_id
            async with self.store.connect() as conn:
                location = await self.store.locations.get(conn, cc, pid, charger.location_id)
            dc = any(evse_limits(location, uid, 1, model.site.voltage_v)[2] for uid in charger.evses.values())
        unit = "W" if dc else "A"
        value = round_limit(limit_a * 3 * model.site.voltage_v if dc else limit_a)
        sent_at = self.clock()
        name = "set_max_profile" if purpose == MAX else "set_default_profile"
        status, answered = await self._call(charger_id, ChargerCommand(name, {"unit": unit, "limit": value}), purpose)
        if status == ACCEPTED:
            (self._max_sent if purpose == MAX else self._default_sent)[charger_id] = limit_a
        return Sent(charger_id, 0, purpose, "SET", status, limit_a, unit, value, None, None, sent_at, answered)

    async def _clear_unmanaged(self, models: list[SiteModel]) -> None:
        """Clear the TxProfiles of transactions that ended (or whose charger left every site), and
        the maximum of chargers that left every site."""
        managed = {cid for m in models for cid in m.charger_circuit}
        gone_max = [c for c in self._max_sent if c not in managed]
        gone_default = [c for c in self._default_sent if c not in managed]
        if not self._in_force and not gone_max and not gone_default:
            return
        gone: list[tuple[tuple[str, int], InForce]] = []
        if self._in_force:
            async with self.store.connect() as conn:
                running = {(t.charger_id, t.transaction_id)
                           for t in await active_transactions(conn, sorted({c for c, _ in self._in_force}))}
            gone = [(key, f) for key, f in self._in_force.items()
                    if (key[0], f.transaction_id) not in running or key[0] not in managed]
        for key, _ in gone:
            del self._in_force[key]
        for charger_id in gone_max:
            del self._max_sent[charger_id]
        if not gone and not gone_max and not gone_default:
            return
        results = await asyncio.gather(*(self._clear(key[0], key[1], f) for key, f in gone),
                                       *(self._clear_charger(cid, MAX) for cid in gone_max),
                                       *(self._clear_charger(cid, DEFAULT) for cid in gone_default))
        await self._record(results)

    async def _clear_charger(self, charger_id: str, purpose: str) -> Sent:
        """Remove a charger-wide profile of ours (its maximum, or the limit of new transactions)."""
        (self._max_sent if purpose == MAX else self._default_sent).pop(charger_id, None)
        sent_at = self.clock()
        name = "clear_max_profile" if purpose == MAX else "clear_default_profile"
        status, answered = await self._call(charger_id, ChargerCommand(name))
        return Sent(charger_id, 0, purpose, "CLEAR", status, None, None, None, None, None, sent_at, answered)

    async def _clear(self, charger_id: str, evse_number: int, was: InForce) -> Sent:
        sent_at = self.clock()
        status, answered = await self._call(charger_id, ChargerCommand("clear_tx_profile",
                                                                      {"evse_number": evse_number}))
        log.info("charger %s EVSE %s: profile of transaction %s cleared -> %s", charger_id, evse_number,
                 was.transaction_id, status)
        return Sent(charger_id, evse_number, TX, "CLEAR", status, None, None, None, was.transaction_id,
                    was.session_id, sent_at, answered)

    async def _record(self, results: Iterable[Sent]) -> None:
        results = list(results)
        if not results:
            return
        async with self.store.begin() as conn:
            for r in results:
                await self.log.add(conn, charger_id=r.charger_id, evse_number=r.evse_number,
                                   transaction_id=r.transaction_id, session_id=r.session_id, action=r.action,
                                   purpose=r.purpose, unit=r.unit, limit=r.limit, limit_a=r.limit_a, status=r.status,
                                   sent_at=r.sent_at or utcnow(), answered_at=r.answered_at)
        self.bus.publish("load.profiles_sent", count=len(results))

    # ------------------------------------------------------------------ status

    async def status(self, site_id: str | None = None) -> list[dict[str, Any]]:
        """Each site's circuits (limit now, planned load, load in force) and sessions (maximum,
        planned limit, limit in force, measured current), from the database: the same answer in
        the server and in a CLI process beside it."""
        models = await self._models()
        if site_id is not None:
            models = [m for m in models if same_id(m.site.id, site_id) and not m.alone]
            if not models:
                from evroam.services.errors import NotFound

                raise NotFound(f"site {site_id!r} not found (see `evroam sites list`)", kind="site")
        chargers = sorted({cid for m in models for cid in m.charger_circuit})
        async with self.store.connect() as conn:
            txs = await active_transactions(conn, chargers)
            found = await self.log.in_force(conn, [(t.charger_id, t.transaction_id) for t in txs])
            recent = await self.log.recent(conn, limit=2000)
        in_force = {(t.charger_id, t.evse_number): InForce(t.transaction_id, t.session_id, s.limit_a or 0.0,
                                                           s.unit or "A", s.limit or 0.0)
                    for t in txs if (s := found.get((t.charger_id, t.transaction_id))) is not None}
        defaults: dict[str, float] = {}
        for r in reversed(recent):  # oldest first: the last word on each charger's start limit
            if r.purpose == DEFAULT and r.action == "SET" and r.status == ACCEPTED:
                defaults[r.charger_id] = r.limit_a or 0.0
            elif r.purpose == DEFAULT and r.action == "CLEAR":
                defaults.pop(r.charger_id, None)
        cutoff = utcnow() - timedelta(seconds=REFUSAL_HOLD_SECONDS)
        refusing = {r.charger_id for r in _latest_per_charger(recent) if r.status in REFUSALS
                    and r.sent_at >= cutoff}
        now = self.clock()
        out = []
        for model in models:
            sp = await self.plan_site(model, now, in_force=in_force, refused=lambda c: c in refusing,
                                      defaults=defaults)
            out.append(_status_view(sp))
        return out

    async def profiles_sent(self, *, charger_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            rows = await self.log.recent(conn, charger_id=charger_id, limit=limit)
        return [_sent_view(r) for r in rows]


def _path_limit(limits: dict[str, float], circuits: list[Any], circuit_id: str) -> float:
    """The tightest effective limit from a circuit up to the grid connection."""
    by_id = {c.id: c for c in circuits}
    tightest = math.inf
    current = by_id.get(circuit_id)
    seen = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        tightest = min(tightest, limits.get(current.id, math.inf))
        current = by_id.get(current.parent_id) if current.parent_id else None
    return tightest


def _latest_per_charger(rows: list[ProfileSent]) -> list[ProfileSent]:
    """The newest session limit (TxProfile SET) sent to each charger (rows come newest first)."""
    seen: dict[str, ProfileSent] = {}
    for r in rows:
        if r.action == "SET" and r.purpose == TX and r.charger_id not in seen:
            seen[r.charger_id] = r
    return list(seen.values())


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 1)


def _status_view(sp: SitePlan) -> dict[str, Any]:
    plan = sp.plan
    by_circuit: dict[str, list[Session]] = {}
    parents = {c.id: c.parent_id for c in sp.model.circuits}
    for s in sp.sessions:
        cid: str | None = s.circuit_id
        while cid is not None:
            by_circuit.setdefault(cid, []).append(s)
            cid = parents.get(cid)
    circuits = []
    for c in sp.model.circuits:
        under = by_circuit.get(c.id, [])
        in_force = sum((s.in_force.limit_a if s.in_force else s.max_a) for s in under)
        drawn = [s.drawn_a for s in under if s.drawn_a is not None]
        circuits.append({
            "id": c.id, "parent_id": c.parent_id, "phases": c.phases,
            "limit_a": _num(plan.circuit_limit_a.get(c.id)),
            "limit_kw": _num(plan.circuit_limit_a.get(c.id, math.inf) * c.phases * c.voltage_v / 1000.0),
            "planned_a": _num(plan.circuit_load_a.get(c.id, 0.0)), "in_force_a": _num(in_force),
            "drawn_a": _num(sum(drawn)) if drawn else None, "sessions": len(under),
            "overloaded": c.id in getattr(plan, "overloaded", ()),
        })
    sessions = []
    for s in sp.sessions:
        prefs = (s.smart.preferences if s.smart else None) or {}
        state = "fallback" if s.refused else ("profiled" if s.in_force else "no profile yet")
        sessions.append({
            "charger_id": s.tx.charger_id, "evse": s.tx.evse_number, "transaction_id": s.tx.transaction_id,
            "session_id": s.tx.session_id, "circuit": s.circuit_id, "phases": s.phases, "unit": s.unit,
            "max_a": _num(s.evse_max_a), "emsp_limit_a": _num(s.emsp_bound_a),
            "planned_a": _num(plan.limits_a.get(s.key)), "planned": _num(s.value(plan.limits_a.get(s.key, 0.0))),
            "in_force_a": _num(s.in_force.limit_a) if s.in_force else None,
            "in_force": _num(s.in_force.limit) if s.in_force else None,
            "drawn_a": _num(s.drawn_a), "state": state,
            "departure_time": prefs.get("departure_time"), "energy_need": prefs.get("energy_need"),
        })
    site = sp.model.site
    return {"site": site.id, "location_id": site.location_id, "at": sp.now.isoformat(),
            "capacity_kw": site.capacity_kw, "capacity_a": site.capacity_a,
            "next_change": sp.next_change.isoformat() if sp.next_change else None,
            "circuits": circuits, "sessions": sessions}


def _sent_view(r: ProfileSent) -> dict[str, Any]:
    return {"charger_id": r.charger_id, "evse": r.evse_number, "transaction_id": r.transaction_id,
            "session_id": r.session_id, "action": r.action, "purpose": r.purpose, "unit": r.unit,
            "limit": r.limit, "limit_a": r.limit_a, "status": r.status, "sent_at": r.sent_at.isoformat(),
            "answered_at": r.answered_at.isoformat() if r.answered_at else None}


__all__ = ["LoadManager", "emsp_bound", "evse_limits"]

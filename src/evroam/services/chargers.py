"""Chargers: the registry (identity, password, mapping of OCPP connectors to OCPI EVSEs),
approval of unknown chargers, and what a charger reports about itself (boot, heartbeats,
connector statuses, going offline), turned into OCPI EVSE statuses pushed to partners."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from evroam.events import Bus
from evroam.model.common import utcnow
from evroam.model.locations import Status
from evroam.services.errors import Invalid, NotFound, ServiceError
from evroam.services.locations import LocationService
from evroam.services.passwords import hash_password, verify_password
from evroam.services.throttle import OCPP, Throttle
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.chargers import ACCEPTED, PENDING, REJECTED, ChargerRecord

log = logging.getLogger(__name__)

# The identity is the last segment of the connection URL and the Basic-auth user name (OCPP
# forbids ":" in it); printable ASCII without "/", at most 48 characters (OCPP 2.0.1 identity).
_ID = re.compile(r"^[\x21-\x2e\x30-\x39\x3b-\x7e]{1,48}$")

# When one EVSE has several connectors, the EVSE shows the busiest of their statuses.
_PRECEDENCE = [Status.CHARGING, Status.RESERVED, Status.BLOCKED, Status.AVAILABLE, Status.INOPERATIVE,
               Status.OUTOFORDER, Status.UNKNOWN]

# A verified (charger, password) pair is remembered this long, so a charger that reconnects (or
# thousands reconnecting at once after a network outage) does not pay scrypt again; a refused
# one for a shorter while. Pairs are kept only as a keyed hash, never as the password itself.
VERIFIED_SECONDS = 3600.0
REFUSED_SECONDS = 30.0
_VERIFIED_MAX = 50_000


@dataclass(frozen=True)
class Admission:
    """Whether a connecting charger may open its OCPP connection."""

    allowed: bool
    reason: str = ""
    status: str = ACCEPTED
    retry_after: float = 0.0  # > 0: refused for failed attempts from the charger's address (HTTP 429)


def evse_status(connector_statuses: list[Status], station: Status | None = None) -> Status:
    """An EVSE's status: the station's when the whole station is down, else the busiest of its
    connectors' statuses."""
    if station is not None:
        return station
    if not connector_statuses:
        return Status.UNKNOWN
    return min(connector_statuses, key=_PRECEDENCE.index)


def parse_evse_mapping(text: str) -> dict[int, str]:
    """`1=EVSE_UID[,2=EVSE_UID]` -> {1: "EVSE_UID", 2: ...}."""
    mapping: dict[int, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        number, sep, uid = part.partition("=")
        if not sep or not number.strip().isdigit() or not uid.strip():
            raise Invalid(f"evse: {part!r} is not CONNECTOR=EVSE_UID (e.g. 1=NL*EVR*E1*1)")
        mapping[int(number)] = uid.strip()
    if not mapping:
        raise Invalid("evse: give at least one CONNECTOR=EVSE_UID")
    return mapping


def view(charger: ChargerRecord, *, connected: bool | None = None, version: str | None = None) -> dict[str, Any]:
    """A charger as the CLI and the admin API show it (never its password hash)."""
    out = {
        "id": charger.id, "status": charger.status, "location_id": charger.location_id,
        "evses": {str(k): v for k, v in sorted(charger.evses.items())}, "ocpp_version": charger.ocpp_version,
        "boot": charger.boot, "has_password": charger.password_hash is not None,
        "last_seen_at": charger.last_seen_at.isoformat() if charger.last_seen_at else None,
    }
    if connected is not None:
        out["connected"] = connected
    return out


class ChargerService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, locations: LocationService,
                 throttle: Throttle | None = None) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.locations = locations
        self.throttle = throttle if throttle is not None else Throttle.from_settings(settings)
        # keyed hash of (charger, password) -> (stored hash it was checked against, matched, until)
        self._verified: dict[bytes, tuple[str, bool, float]] = {}
        self._pair_key = secrets.token_bytes(32)
        self._locks: dict[str, asyncio.Lock] = {}
        # What connecting chargers tell about themselves (last seen, OCPP version, boot info):
        # charger id -> column values, written for all of them in one go (flush_seen)
        self._pending: dict[str, dict[str, Any]] = {}

    def _lock(self, charger_id: str) -> asyncio.Lock:
        return self._locks.setdefault(charger_id, asyncio.Lock())

    # ------------------------------------------------------------------ registry

    async def add(self, charger_id: str, *, password: str | None, location_id: str, evses: dict[int, str]) -> dict:
        """Register a charger, or complete one that connected unknown and waits as Pending
        (it stays Pending until approved). Its connectors map to EVSEs of one of our locations."""
        if not _ID.match(charger_id or ""):
            raise Invalid(f"charger id {charger_id!r}: 1-48 printable characters, no '/' or ':'")
        if password is not None and not 8 <= len(password) <= 64:
            raise Invalid("password: 8 to 64 characters")
        evses = await self._checked_mapping(location_id, evses)
        async with self.store.begin() as conn:
            current = await self.store.chargers.get(conn, charger_id)
            if current is not None and current.status != PENDING:
                raise Invalid(f"charger {charger_id!r} is already registered")
            password_hash = hash_password(password) if password else None
            if current is None:
                await self.store.chargers.create(conn, charger_id, status=ACCEPTED, password_hash=password_hash,
                                                 location_id=location_id, evses=evses)
            else:
                await self.store.chargers.update(conn, charger_id, password_hash=password_hash,
                                                 location_id=location_id, evses=evses)
            charger = await self.store.chargers.get(conn, charger_id)
        self.bus.publish("charger.changed", charger_id=charger_id)
        return view(charger)

    async def update(self, charger_id: str, *, password: str | None = None, location_id: str | None = None,
                     evses: dict[int, str] | None = None) -> dict:
        charger = await self.get_record(charger_id)
        values: dict[str, Any] = {}
        if password is not None:
            if not 8 <= len(password) <= 64:
                raise Invalid("password: 8 to 64 characters")
            values["password_hash"] = hash_password(password)
        if location_id is not None or evses is not None:
            location_id = location_id or charger.location_id
            if not location_id:
                raise Invalid("location: required with an EVSE mapping")
            values["location_id"] = location_id
            values["evses"] = await self._checked_mapping(location_id, evses if evses is not None else charger.evses)
        async with self.store.begin() as conn:
            await self.store.chargers.update(conn, charger_id, **values)
            charger = await self.store.chargers.get(conn, charger_id)
        self.bus.publish("charger.changed", charger_id=charger_id)
        return view(charger)

    async def _checked_mapping(self, location_id: str, evses: dict[int, str]) -> dict[int, str]:
        loc = await self.locations.get_own(location_id)
        known = {e["uid"].casefold(): e["uid"] for e in loc.get("evses") or []}
        out: dict[int, str] = {}
        for number, uid in evses.items():
            if int(number) < 1:
                raise Invalid(f"evse: connector/EVSE numbers start at 1, got {number}")
            if uid.casefold() not in known:
                raise NotFound(f"EVSE {uid!r} not found in location {location_id!r}", kind="evse")
            out[int(number)] = known[uid.casefold()]
        return out

    async def approve(self, charger_id: str) -> dict:
        """Accept a charger that connected unknown (Pending): its next BootNotification is
        Accepted. It needs a location mapping first (`add`)."""
        charger = await self.get_record(charger_id)
        if charger.status == ACCEPTED:
            return view(charger)
        async with self.store.begin() as conn:
            await self.store.chargers.update(conn, charger_id, status=ACCEPTED)
            charger = await self.store.chargers.get(conn, charger_id)
        self.bus.publish("charger.approved", charger_id=charger_id)
        return view(charger)

    async def reject(self, charger_id: str) -> dict:
        await self.get_record(charger_id)
        async with self.store.begin() as conn:
            await self.store.chargers.update(conn, charger_id, status=REJECTED)
            charger = await self.store.chargers.get(conn, charger_id)
        self.bus.publish("charger.changed", charger_id=charger_id)
        return view(charger)

    async def remove(self, charger_id: str) -> None:
        async with self.store.begin() as conn:
            if not await self.store.chargers.delete(conn, charger_id):
                raise NotFound(f"charger {charger_id!r} not found", kind="charger")
        self.bus.publish("charger.changed", charger_id=charger_id)

    async def get_record(self, charger_id: str) -> ChargerRecord:
        charger = await self._get(charger_id)
        if charger is None:
            raise NotFound(f"charger {charger_id!r} not found (see `evroam chargers list`)", kind="charger")
        return charger

    async def list(self) -> list[ChargerRecord]:
        async with self.store.connect() as conn:
            return await self.store.chargers.list(conn)

    # ------------------------------------------------------------------ connecting

    async def admit(self, charger_id: str, password: str | None, *, certificate: bool = False,
                    client: str | None = None) -> Admission:
        """Decide at the WebSocket handshake. A known charger proves itself with its password
        (HTTP Basic), or with a client certificate the TLS layer verified (security profile 3).
        An unknown one is refused, or (setting `ocpp_unknown_chargers = "pending"`) recorded as
        Pending for an operator to approve.

        Wrong passwords and unknown ids (the first step of guessing) count against the client's
        address (`client`); an address with too many is refused before anything is looked up,
        whatever it presents, until its delay has passed (see services/throttle.py)."""
        wait = await self.throttle.check(OCPP, client)
        if wait > 0:
            return Admission(False, "too many failed attempts from this address", retry_after=wait)
        if not _ID.match(charger_id or ""):
            return Admission(False, "invalid charge point identity")
        async with self.store.connect() as conn:
            charger = await self.store.chargers.get(conn, charger_id)
        if charger is None:
            if self.settings.ocpp_unknown_chargers != "pending":
                await self.throttle.failed(OCPP, client)
                return Admission(False, "unknown charge point")
            async with self.store.begin() as conn:
                if await self.store.chargers.get(conn, charger_id) is None:
                    await self.store.chargers.create(conn, charger_id, status=PENDING, password_hash=None,
                                                     location_id=None, evses={})
            log.info("unknown charger %s connected; pending approval", charger_id)
            self.bus.publish("charger.pending", charger_id=charger_id)
            return Admission(True, status=PENDING)
        if charger.status == REJECTED:
            return Admission(False, "charge point rejected by the operator")
        if charger.password_hash is not None:
            if password is None:
                if not certificate:
                    return Admission(False, "credentials required")
            elif not await self._password_ok(charger_id, password, charger.password_hash):
                await self.throttle.failed(OCPP, client)
                return Admission(False, "wrong password")
        elif password is None and not certificate and charger.status == ACCEPTED:
            return Admission(False, "no password set for this charger: `evroam chargers update --password`")
        return Admission(True, status=charger.status)

    async def _password_ok(self, charger_id: str, password: str, stored: str) -> bool:
        key = hashlib.blake2b(f"{charger_id}\x00{password}".encode(), key=self._pair_key, digest_size=32).digest()
        now = time.monotonic()
        known = self._verified.get(key)
        if known is not None and known[0] == stored and now < known[2]:
            return known[1]
        ok = await asyncio.to_thread(verify_password, password, stored)
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified = {k: v for k, v in self._verified.items() if now < v[2]}
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
        self._verified[key] = (stored, ok, now + (VERIFIED_SECONDS if ok else REFUSED_SECONDS))
        return ok

    async def connected(self, charger_id: str, version: str) -> None:
        """A charger opened its connection: remember its OCPP version and show its EVSEs with
        their last reported statuses again."""
        async with self._lock(charger_id):
            self._note(charger_id, ocpp_version=version, last_seen_at=utcnow())
            await self._publish_statuses(charger_id)
        self.bus.publish("charger.connected", charger_id=charger_id, version=version)

    async def disconnected(self, charger_id: str) -> None:
        """The connection is gone (closed, or heartbeats missed): its EVSEs become UNKNOWN."""
        async with self._lock(charger_id):
            charger = await self._get(charger_id)
            if charger is not None and charger.status == ACCEPTED:
                for uid in dict.fromkeys(charger.evses.values()):
                    await self._set(charger, uid, Status.UNKNOWN)
        self.bus.publish("charger.disconnected", charger_id=charger_id)

    async def boot(self, charger_id: str, info: dict[str, Any]) -> str:
        """A BootNotification: the registration status to answer (ACCEPTED, PENDING, REJECTED)."""
        charger = await self._get(charger_id)
        if charger is None:
            return REJECTED
        self._note(charger_id, boot=info, last_seen_at=utcnow())
        self.bus.publish("charger.booted", charger_id=charger_id, status=charger.status)
        if charger.status == ACCEPTED and not charger.location_id:
            return PENDING  # approved but not mapped to a location yet: nothing to charge on
        return charger.status

    def seen(self, charger_id: str) -> None:
        """A sign of life (a Heartbeat): remembered in memory, stored by the next `flush_seen`."""
        self._note(charger_id, last_seen_at=utcnow())

    def _note(self, charger_id: str, **values: Any) -> None:
        self._pending.setdefault(charger_id, {}).update(values)

    async def flush_seen(self) -> int:
        """Store what chargers told about themselves since the last flush (last-seen times, OCPP
        versions, boot information) in one database transaction, one statement per kind of
        change. The number of chargers written."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        try:
            async with self.store.begin() as conn:
                await self.store.chargers.update_many(conn, batch)
        except Exception:
            for charger_id, values in batch.items():  # kept for the next attempt, under newer values
                self._pending[charger_id] = {**values, **self._pending.get(charger_id, {})}
            raise
        return len(batch)

    async def is_accepted(self, charger_id: str) -> bool:
        charger = await self._get(charger_id)
        return charger is not None and charger.status == ACCEPTED and bool(charger.location_id)

    async def connector_status(self, charger_id: str, evse_number: int, connector_number: int,
                               status: Status) -> None:
        """A connector's status (already in OCPI terms); the EVSE's status follows."""
        async with self._lock(charger_id):
            charger = await self._get(charger_id)
            if charger is None or charger.status != ACCEPTED:
                return
            charger.state.setdefault("connectors", {})[f"{evse_number}/{connector_number}"] = status.value
            await self._save_state(charger)
            uid = charger.evses.get(evse_number)
            if uid is None:
                log.warning("charger %s reported EVSE/connector %s, which is not mapped", charger_id, evse_number)
                return
            await self._set(charger, uid, self._evse_status(charger, evse_number))

    async def station_status(self, charger_id: str, status: Status | None) -> None:
        """A status of the whole station (connector 0 / EVSE 0): INOPERATIVE or OUTOFORDER for
        every EVSE, or None (Available) to show each EVSE's own connectors again."""
        async with self._lock(charger_id):
            charger = await self._get(charger_id)
            if charger is None or charger.status != ACCEPTED:
                return
            charger.state["station"] = status.value if status else None
            await self._save_state(charger)
            for number, uid in charger.evses.items():
                await self._set(charger, uid, self._evse_status(charger, number))

    def _evse_status(self, charger: ChargerRecord, evse_number: int) -> Status:
        station = charger.state.get("station")
        connectors = [Status(v) for k, v in (charger.state.get("connectors") or {}).items()
                      if k.split("/")[0] == str(evse_number)]
        return evse_status(connectors, Status(station) if station else None)

    async def _publish_statuses(self, charger_id: str) -> None:
        charger = await self._get(charger_id)
        if charger is None or charger.status != ACCEPTED:
            return
        for number, uid in charger.evses.items():
            if charger.state.get("station") or any(k.split("/")[0] == str(number)
                                                   for k in charger.state.get("connectors") or {}):
                await self._set(charger, uid, self._evse_status(charger, number))

    async def _get(self, charger_id: str) -> ChargerRecord | None:
        async with self.store.connect() as conn:
            return await self.store.chargers.get(conn, charger_id)

    async def _save_state(self, charger: ChargerRecord) -> None:
        async with self.store.begin() as conn:
            await self.store.chargers.update(conn, charger.id, state=charger.state, last_seen_at=utcnow())

    async def _set(self, charger: ChargerRecord, evse_uid: str, status: Status) -> None:
        if not charger.location_id:
            return
        try:
            await self.locations.set_evse_status(charger.location_id, evse_uid, status, charger_id=charger.id)
        except ServiceError as exc:
            log.warning("charger %s: cannot set EVSE %s to %s: %s", charger.id, evse_uid, status.value, exc)

    async def evse_of(self, charger_id: str, evse_number: int) -> tuple[ChargerRecord, str] | None:
        """The charger and the OCPI EVSE uid of one of its OCPP connectors (1.6) / EVSEs (2.x)."""
        charger = await self._get(charger_id)
        if charger is None or evse_number not in charger.evses:
            return None
        return charger, charger.evses[evse_number]

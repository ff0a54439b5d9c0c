"""Which sessions and CDRs are whose: every session and CDR of one of our tokens (pushed to us by
a CPO partner, or made by our own CPO role) is indexed by its driver.

Indexing happens when a session or CDR arrives (bus events) and, for anything the events did not
cover (records written by another process, or before a restart), by a catch-up that reads the
rows added since the last look; the driver API, invoices and the credit limit catch up before
they read."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from evroam.events import Bus
from evroam.model.common import parse_datetime
from evroam.services.objects import same_id
from evroam.settings import Settings
from evroam.store import Store

log = logging.getLogger(__name__)
KINDS = ("session", "cdr")


class DriverRecords:
    def __init__(self, store: Store, bus: Bus, settings: Settings) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self._lock = asyncio.Lock()
        self._seen: dict[str, int] = {}  # kind -> highest record pk looked at by this process
        if "EMSP" in settings.roles:
            bus.subscribe("session.received", self._on_session)
            bus.subscribe("cdr.received", self._on_cdr)
            bus.subscribe("cdr.created", self._on_cdr)

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    async def catch_up(self) -> int:
        """Index every session and CDR row added since the last look; the number indexed."""
        n = 0
        async with self._lock:
            for kind in KINDS:
                n += await self._catch_up(kind)
        return n

    async def _catch_up(self, kind: str) -> int:
        repo = self.store.driver_records
        n = 0
        async with self.store.connect() as conn:  # the usual case: nothing new, no write transaction
            upto = await repo.max_record_pk(conn, kind)
            after = self._seen.get(kind)
            if after is None:
                after = await repo.max_indexed(conn, kind)
        if upto <= after:
            self._seen[kind] = after
            return 0
        async with self.store.begin() as conn:
            while True:
                batch = await repo.unindexed(conn, kind, self.owner, after=after, upto=upto)
                if not batch:
                    break
                await repo.add(conn, await self._rows(conn, kind, batch))
                n += len(batch)
                after = batch[-1][0]
        self._seen[kind] = upto
        return n

    async def _rows(self, conn, kind: str, batch: list[tuple[int, str, str, str, dict]]) -> list[dict[str, Any]]:
        cc, pid = self.owner
        owners: dict[tuple[str, str], int | None] = {}
        rows = []
        for pk, rcc, rpid, object_id, data in batch:
            token = data.get("cdr_token") if isinstance(data.get("cdr_token"), dict) else {}
            uid, token_type = token.get("uid"), token.get("type")
            driver_pk = None
            if uid and same_id(str(token.get("country_code", "")), cc) and same_id(str(token.get("party_id", "")), pid):
                key = (str(uid).upper(), str(token_type))
                if key not in owners:
                    found = await self.store.drivers.token_owner(conn, str(uid), str(token_type))
                    owners[key] = found[0].pk if found else None
                driver_pk = owners[key]
            rows.append({
                "kind": kind, "record_pk": pk, "country_code": rcc, "party_id": rpid, "object_id": object_id,
                "driver_pk": driver_pk, "token_uid": str(uid)[:36] if uid else None,
                "token_type": str(token_type)[:20] if token_type else None,
                "started_at": _when(data.get("start_date_time")), "ended_at": _when(data.get("end_date_time")),
            })
        return rows

    async def index(self, kind: str, cc: str, pid: str, object_id: str) -> None:
        """Index one session or CDR now (an event said it arrived)."""
        async with self._lock, self.store.begin() as conn:
            pk = await self.store.driver_records.record_pk(conn, kind, cc, pid, object_id)
            if pk is None:
                return
            data = await (self.store.sessions if kind == "session" else self.store.cdrs).get(conn, cc, pid, object_id)
            await self.store.driver_records.add(conn, await self._rows(conn, kind, [(pk, cc.upper(), pid.upper(),
                                                                                     object_id, data)]))
            if kind == "cdr" or data.get("end_date_time"):
                await self.store.driver_records.set_ended(conn, kind, pk, _when(data.get("end_date_time")))

    async def _on_session(self, event) -> None:
        d = event.data
        await self.index("session", d["country_code"], d["party_id"], d["session_id"])

    async def _on_cdr(self, event) -> None:
        d = event.data
        if "country_code" in d:
            await self.index("cdr", d["country_code"], d["party_id"], d["cdr_id"])
        else:  # our own CPO role made a CDR
            await self.catch_up()


def _when(value: Any):
    try:
        return parse_datetime(value) if value else None
    except ValueError:
        return None

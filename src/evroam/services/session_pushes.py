"""Session pushes on a timer: each active Session is recomputed and pushed to its eMSP at most
once every `session_push_interval` seconds (at once when energy starts to flow), many in one
database transaction when their timers fire together. One timer per active Session; no polling.
Part of the charging service (it holds the charger locks and the open transactions)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from evroam.model.sessions import SessionStatus
from evroam.store.charging import ACTIVE, TransactionRecord

if TYPE_CHECKING:
    from evroam.services.charging import ChargingService

log = logging.getLogger(__name__)

PUSH_BATCH = 200  # Sessions recomputed and pushed in one database transaction at most


class SessionPusher:
    def __init__(self, charging: ChargingService) -> None:
        self.charging = charging
        # (charger, transaction) -> the timer of its next push, and the transactions with
        # readings not pushed yet.
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self.dirty: set[tuple[str, str]] = set()
        self._push_tasks: set[asyncio.Task] = set()
        self._due: list[tuple[str, str]] = []
        self._pusher: asyncio.Task | None = None

    async def close(self) -> None:
        """Stop the timers (what they would push is stored: the next start of the service
        pushes it with the transaction's next reading or its stop)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._push_tasks:
            await asyncio.gather(*list(self._push_tasks), return_exceptions=True)

    def changed(self, tx: TransactionRecord) -> None:
        """New readings or state of an active Session: its push is scheduled (at once when it
        starts charging, PENDING -> ACTIVE, else at the interval)."""
        key = (tx.charger_id, tx.transaction_id)
        self.dirty.add(key)
        self.schedule(key, tx, now=starts_charging(tx))

    def schedule(self, key: tuple[str, str], tx: TransactionRecord, *, now: bool = False) -> None:
        """Arm the transaction's push timer, unless armed: due `session_push_interval` seconds
        after its last push (at once with `now`). One timer per active Session; no polling."""
        timer = self._timers.get(key)
        delay = 0.0 if now else max(0.0, tx.state.get("pushed_at", 0.0) + self.charging.settings.session_push_interval
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
                if key not in self.dirty or key in self._timers:
                    continue  # pushed meanwhile (e.g. by the stop), or already waiting again
                lock = self.charging._lock(key[0])
                if lock.locked():
                    self._timers[key] = loop.call_later(0.05, self._push_due, key)
                    continue
                await lock.acquire()  # free: taken at once
                held.append(lock)
                tx = self.charging._open.pop(key, None) or await self.charging.get_transaction(*key)
                if tx is None or tx.status != ACTIVE or tx.session_id is None:
                    self.dirty.discard(key)
                    continue
                due = tx.state.get("pushed_at", 0.0) + self.charging.settings.session_push_interval - time.time()
                if due > 0.001 and not starts_charging(tx):
                    self.charging._open[key] = tx
                    self.schedule(key, tx)  # pushed meanwhile: the next one at the interval
                    continue
                batch.append((key, tx))
            if not batch:
                return
            stored = [dict(tx.state) for _, tx in batch]
            try:
                async with self.charging.store.begin() as conn:
                    for _, tx in batch:
                        await self._push_one(conn, tx)
                done = batch
            except Exception:  # one bad Session must not hold the others back: one by one
                for (_, tx), state in zip(batch, stored, strict=True):
                    tx.state = state  # as stored: the batch was rolled back
                done = []
                for key, tx in batch:
                    try:
                        async with self.charging.store.begin() as conn:
                            await self._push_one(conn, tx)
                    except Exception:
                        self.charging._forget(*key)
                        self.dirty.discard(key)
                        log.exception("charger %s: pushing the session of transaction %s failed", *key)
                    else:
                        done.append((key, tx))
            for key, tx in done:
                self.dirty.discard(key)
                self.charging._open[key] = tx
                self.charging._published(tx, "session.updated")
        finally:
            for lock in held:
                lock.release()

    async def _push_one(self, conn, tx: TransactionRecord) -> None:
        state = dict(tx.state)
        try:
            await self.charging.records.refresh(conn, tx, final=False)
            await self.charging.store.transactions.update(conn, tx.pk, state=tx.state)
        except Exception:
            tx.state = state  # as stored
            raise

    def forget_charger(self, charger_id: str) -> None:
        for key in [k for k in (*self._timers, *self.dirty) if k[0] == charger_id]:
            self.cancel(*key)

    def cancel(self, charger_id: str, transaction_id: str) -> None:
        key = (charger_id, str(transaction_id))
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self.dirty.discard(key)


def starts_charging(tx: TransactionRecord) -> bool:
    """True when energy started to flow and the Session still shows PENDING: pushed at once."""
    return bool(tx.state.get("charging")) and tx.state.get("session_status") == SessionStatus.PENDING.value

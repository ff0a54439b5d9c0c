"""The OCPP transaction log: every frame to and from a charger, with its direction, charger and
time. Frames are queued in memory and written in batches (so logging never slows the charger
conversation down); old entries are pruned after `ocpp_log_retention_days`. A frame longer than
`ocpp_log_max_frame_chars` is kept cut, with a note of how much is missing, and while the
database cannot be written the queue holds at most `MAX_BACKLOG_CHARS` (newer frames are then
counted and dropped), so neither the database nor the memory grows by what a charger sends."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta

import orjson

from evroam.events.tasks import cancel_and_wait
from evroam.model.common import utcnow
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.ocpp_log import LogEntry

log = logging.getLogger(__name__)

STOP_SECONDS = 5.0  # the longest a stop waits for a flush under way
FLUSH_SECONDS = 0.5
BATCH = 500
PRUNE_SECONDS = 3600.0
#: most characters of frames waiting in memory for the database (while it cannot be written)
MAX_BACKLOG_CHARS = 64 * 1024 * 1024
#: message ids are kept (in the database and in the CALL id -> action map) up to this length
MAX_ID_CHARS = 64


def cut(frame: str, limit: int) -> str:
    """`frame`, or its first `limit` characters and a note saying how many were not kept."""
    if len(frame) <= limit:
        return frame
    return f"{frame[:limit]}…[cut: {len(frame) - limit} of {len(frame)} characters not kept]"


def describe(frame: str) -> tuple[int | None, str | None, str | None]:
    """(message type, unique id, action) of a frame, as far as it can be read."""
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(msg, list) or not msg or type(msg[0]) is not int or msg[0] not in (2, 3, 4):
        return None, None, None  # no OCPP frame
    unique_id = str(msg[1]) if len(msg) > 1 else None
    action = msg[2] if msg[0] == 2 and len(msg) > 2 and isinstance(msg[2], str) else None
    return msg[0], unique_id, action


class OcppLog:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._queue: list[LogEntry] = []
        self._queued_chars = 0
        self._dropped = 0  # frames not logged because the backlog was full
        self._actions: OrderedDict[tuple[str, str, str], str] = OrderedDict()  # CALL id -> action, per side
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._flush_lock = asyncio.Lock()

    def record(self, charger_id: str, direction: str, frame: str, at: datetime | None = None, *,
               kind: tuple[int, str, str | None] | None = None) -> None:
        """Queue one frame ("in": from the charger, "out": to it). Never blocks, never raises.
        `kind`: (message type, unique id, action) when the caller has read the frame already."""
        message_type, unique_id, action = kind if kind is not None else describe(frame)
        if unique_id is not None:
            unique_id = unique_id[:MAX_ID_CHARS]
            if message_type == 2 and action:
                self._actions[(charger_id, direction, unique_id)] = action
                if len(self._actions) > 20_000:
                    self._actions.popitem(last=False)
            elif message_type in (3, 4):  # a result answers the other side's CALL
                found = self._actions.pop((charger_id, "out" if direction == "in" else "in", unique_id), None)
                action = action or found
        frame = cut(frame, self.settings.ocpp_log_max_frame_chars)
        if self._queued_chars + len(frame) > MAX_BACKLOG_CHARS:
            self._dropped += 1
            if self._dropped == 1:
                log.warning("the OCPP log is %d characters behind the database: frames are dropped until it "
                            "catches up", self._queued_chars)
            return
        self._queued_chars += len(frame)
        self._queue.append(LogEntry(charger_id, at or utcnow(), direction, message_type, unique_id, action, frame))
        if len(self._queue) >= BATCH:
            self._wake.set()

    async def flush(self) -> int:
        async with self._flush_lock:
            batch, self._queue = self._queue, []
            if batch:
                try:
                    async with self.store.begin() as conn:
                        await self.store.ocpp_log.append(conn, batch)
                except Exception:
                    self._queue[:0] = batch  # kept for the next attempt
                    raise
                self._queued_chars = sum(len(e.frame) for e in self._queue)
                if self._dropped:
                    log.warning("the OCPP log caught up; %d frames were not logged", self._dropped)
                    self._dropped = 0
            return len(batch)

    async def prune(self, now: datetime | None = None) -> int:
        days = self.settings.ocpp_log_retention_days
        if not days:
            return 0
        async with self.store.begin() as conn:
            return await self.store.ocpp_log.prune(conn, (now or utcnow()) - timedelta(days=days))

    async def query(self, *, charger_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[LogEntry]:
        await self.flush()
        async with self.store.connect() as conn:
            return await self.store.ocpp_log.query(conn, charger_id=charger_id, since=since, until=until, limit=limit)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ocpp-log")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wake.set()
            # let a flush under way finish (cancelling it mid-write leaves its connection broken);
            # the loop ends after it. A writer stuck that long is cancelled.
            done, _ = await asyncio.wait([task], timeout=STOP_SECONDS)
            if not done:
                await cancel_and_wait(task)
        await self.flush()

    async def _run(self) -> None:
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
                if loop.time() - last_prune > PRUNE_SECONDS:
                    last_prune = loop.time()
                    pruned = await self.prune()
                    if pruned:
                        log.info("pruned %d OCPP log entries older than %s days", pruned,
                                 self.settings.ocpp_log_retention_days)
            except Exception:
                log.exception("writing the OCPP log failed; will retry")

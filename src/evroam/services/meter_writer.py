"""Group commit of meter readings (see MeterWriter)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from evroam.store import Store
from evroam.store.charging import Reading


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

"""Stopping background tasks: a shutdown with a deadline is never swallowed, and a service's loop
ends on its stop flag even when its cancellation is lost (Python 3.11's `asyncio.wait_for` can
swallow a cancellation that arrives as its inner wait completes)."""

from __future__ import annotations

import asyncio

import pytest

from evroam.events.tasks import cancel_and_wait
from evroam.services import ocpp_log as ocpp_log_module
from evroam.services.ocpp_log import OcppLog
from evroam.settings import Settings
from evroam.store import Store


async def test_cancel_and_wait_does_not_swallow_the_callers_cancellation():
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                pass  # a lost cancellation

    task = asyncio.get_running_loop().create_task(stubborn())
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):  # the caller's deadline holds
        await asyncio.wait_for(cancel_and_wait(task), 0.2)
    release.set()
    await cancel_and_wait(task)
    assert task.done()
    await cancel_and_wait(task)  # an ended task (or None) is fine
    await cancel_and_wait(None)


async def test_ocpp_log_stops_on_its_flag_when_the_cancellation_is_lost(tmp_path, monkeypatch):
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
    await store.migrate()
    log = OcppLog(store, Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'log.db'}"))
    log.start()
    await asyncio.sleep(0.05)
    log.record("CP-1", "in", '[2,"1","Heartbeat",{}]')

    async def wait_without_cancelling(task):  # as if the cancellation were swallowed
        await asyncio.wait([task])

    monkeypatch.setattr(ocpp_log_module, "cancel_and_wait", wait_without_cancelling)
    await asyncio.wait_for(log.stop(), 5)
    entries = await log.query(charger_id="CP-1")
    assert [e.action for e in entries] == ["Heartbeat"]  # what was recorded is written at the stop
    await store.close()

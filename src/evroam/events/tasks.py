"""Background tasks of the services (timers, flushers, periodic work): how they are stopped."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Cancel a background task and wait until it has ended.

    Unlike `task.cancel(); await task` inside `except CancelledError: pass`, a cancellation of
    the caller itself (a shutdown with a deadline) is not swallowed. The task's loop should also
    watch a stop flag: on Python 3.11 `asyncio.wait_for` can swallow a cancellation that arrives
    as its inner wait completes, and a loop that only relies on being cancelled then runs on."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait([task])

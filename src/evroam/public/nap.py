"""The push of our DATEX II publications to a National Access Point (the German Mobilithek takes
AFIR data this way: one data offer for the static table, one for the dynamic status, each with
its own push URL, over mutual TLS).

- the table publication (`nap_table_url`): at start, every `nap_snapshot_seconds` (a day), and
  when a published location or tariff changes (its version moved);
- the status publication (`nap_status_url`): a full snapshot at start and every
  `nap_snapshot_seconds`; between snapshots, a delta holding only the charging points whose status
  changed, within `nap_delta_seconds` (at most 60 s, as AFIR asks) of the change.

It runs once per platform (the "nap-push" singleton) and hears every node's changes
(`location.changed`, `tariff.changed` from the change feed). What was last delivered is the base
of the next delta, so a push that fails is made again, with what changed since, at the next
round; after a restart the first push is a full snapshot. Every document is validated against
the DATEX II schemas before it is sent."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any

import httpx

from evroam.public import datex2
from evroam.public.open_data import datex_documents

log = logging.getLogger(__name__)
XML = {"Content-Type": "application/xml; charset=utf-8"}


def client(settings) -> httpx.AsyncClient:
    """An HTTP client presenting our certificate (mutual TLS) and checking the NAP's against
    `nap_ca` (else the system's CAs)."""
    context = ssl.create_default_context(cafile=settings.nap_ca) if settings.nap_ca else ssl.create_default_context()
    if settings.nap_client_cert:
        context.load_cert_chain(settings.nap_client_cert, settings.nap_client_key)
    return httpx.AsyncClient(verify=context, timeout=30.0, follow_redirects=False)


class NapPusher:
    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.settings = platform.settings
        self._task: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self.delivered: dict[tuple[str, str], str] = {}  # (location, EVSE) -> status the NAP has
        self.table_version: str | None = None
        self.next_snapshot = 0.0
        self.pushes: list[tuple[str, int]] = []  # (kind, HTTP status) of the last pushes (for /health and tests)
        for topic in ("location.changed", "tariff.changed", "tariff.deleted"):
            platform.bus.subscribe(topic, lambda _e: self._changed.set(), everywhere=True)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.nap_table_url or self.settings.nap_status_url)

    def start(self) -> None:
        if self._task is None and self.enabled:
            self._http = client(self.settings)
            self.next_snapshot = 0.0
            self.delivered = {}
            self.table_version = None
            self._task = asyncio.get_running_loop().create_task(self._run(), name="nap-push")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        delay = self.settings.nap_delta_seconds
        while True:
            self._changed.clear()
            try:
                await self.round()
                wait = max(0.0, min(self.next_snapshot - time.monotonic(), 3600.0))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the NAP unreachable, refusing ...: again at the next round
                log.warning("NAP push failed (retried within %.0f s): %s", delay, exc)
                wait = delay / 2
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
                # changes come in bursts: gather those of the next moments into one delta
                await asyncio.sleep(min(2.0, delay / 4))
            except TimeoutError:
                pass

    async def round(self) -> None:
        """Push what the NAP does not have yet: a snapshot when one is due, else the table if it
        changed and a delta of the statuses that changed."""
        snapshot = time.monotonic() >= self.next_snapshot
        table, status, snap = await datex_documents(self.platform, table=True)
        version = datex2.publications.table_version(snap.locations, snap.tariffs.values())
        current = {(loc["id"], e["uid"]): e.get("status", "UNKNOWN") for loc in snap.locations
                   for e in loc.get("evses") or [] if e.get("connectors")}
        if table is not None and self.settings.nap_table_url and (snapshot or version != self.table_version):
            await self._post("table", self.settings.nap_table_url, table)
            self.table_version = version
        if self.settings.nap_status_url:
            if snapshot:
                await self._post("status", self.settings.nap_status_url, status)
            else:
                changed = {key for key, value in current.items() if self.delivered.get(key) != value}
                if changed:
                    _, delta, _ = await datex_documents(self.platform, only=changed, table=False)
                    await self._post("delta", self.settings.nap_status_url, delta)
        self.delivered = current
        if snapshot:
            self.next_snapshot = time.monotonic() + self.settings.nap_snapshot_seconds

    async def _post(self, kind: str, url: str, document) -> None:
        datex2.validate(document)
        body = datex2.to_bytes(document)
        response = await self._http.post(url, content=body, headers=XML)
        self.pushes = (self.pushes + [(kind, response.status_code)])[-50:]
        if response.status_code >= 300:
            raise RuntimeError(f"the NAP answered {response.status_code} to the {kind} push")
        log.info("NAP: %s pushed (%d bytes)", kind, len(body))

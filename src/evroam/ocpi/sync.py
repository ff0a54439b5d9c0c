"""Pull sync (we are the eMSP): read a CPO partner's sender interfaces (tariffs, locations,
sessions, CDRs) page by page, following Link headers; the first time everything, afterwards
only what changed since the last pull (`date_from`).

Pulls run right after a CPO partner registers, on `evroam partners sync NAME [--full]`, and
every `pull_interval` seconds in the server (0: never), so what a partner pushed while we were
unreachable, or could not push, arrives at the latest one interval later. A module that fails
(partner unreachable, an error answer) keeps its previous `date_from`, so the next pull reads
again from there; the failure is written on the partner (`last_error`, shown by `partners
list`) and cleared by the next pull that succeeds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from evroam.events.tasks import cancel_and_wait
from evroam.model.common import format_datetime, utcnow
from evroam.model.partners import Partner
from evroam.ocpi import registry, wire
from evroam.ocpi.hubclientinfo.client import pull_client_info
from evroam.ocpi.mappings import base
from evroam.ocpi.transport.errors import PartnerCallError
from evroam.services.errors import ServiceError

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)

# Tariffs before the locations that name them, sessions before their CDRs.
PULLED_MODULES = ("tariffs", "locations", "sessions", "cdrs")
KINDS = {"tariffs": base.TARIFF, "locations": base.LOCATION, "sessions": base.SESSION, "cdrs": base.CDR}
# An incremental pull asks for changes since the previous pull started, minus this margin, so a
# partner whose clock runs behind ours loses nothing (objects pulled twice are simply replaced).
CLOCK_MARGIN = timedelta(minutes=5)
# The sessions sender interface requires date_from: a full pull asks from here.
EPOCH = "1970-01-01T00:00:00Z"
_ERROR_PREFIX = "pull from "


class PullFailed(RuntimeError):
    """Some modules could not be pulled; `counts` holds what was stored all the same."""

    def __init__(self, partner: str, counts: dict[str, int], errors: dict[str, str]) -> None:
        self.counts = counts
        self.errors = errors
        done = ", ".join(f"{n} {m}" for m, n in counts.items()) or "nothing"
        failed = "; ".join(f"{m}: {e}" for m, e in errors.items())
        super().__init__(f"pull from {partner} incomplete (stored {done}); failed: {failed}")


async def pull(platform: Platform, partner: Partner, *, full: bool = False,
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Pull every module the partner sends; {module: objects stored}. Raises PullFailed (after
    pulling every module it could) when a module failed."""
    if not partner.registered or not partner.outgoing_token:
        raise ValueError(f"partner {partner.name!r} is not registered")
    async with platform.puller.lock(partner.pk):  # one pull of a partner at a time (periodic, CLI, registration)
        return await _pull(platform, partner, full=full, progress=progress)


async def _pull(platform: Platform, partner: Partner, *, full: bool,
                progress: Callable[[str, int], None] | None) -> dict[str, int]:
    async with platform.store.connect() as conn:
        partner = await platform.store.partners.get(conn, partner.pk) or partner  # the latest sync state
    allowed = partner.parties("CPO")
    version = registry.get(partner.version)
    # a 2.1.1 object names no owner: the partner's CPO party (it has one)
    ctx = wire.context(platform, owner=allowed[0] if len(allowed) == 1 else None)
    # GET-all through a hub is addressed to the hub, which merges what its parties send
    to_party = partner.hub_party() or (allowed[0] if len(allowed) == 1 else None)
    counts: dict[str, int] = {}
    errors: dict[str, str] = {}
    problems: list[str] = []
    state = dict(partner.sync_state)
    for module in PULLED_MODULES:
        url = partner.endpoint(module, "SENDER")
        if not url or not allowed:
            continue
        started = format_datetime(utcnow() - CLOCK_MARGIN)
        since = None if full else state.get(module)
        params = {"date_from": since or EPOCH} if since or module == "sessions" else {}
        stored = 0
        if progress:
            progress(module, 0)
        try:
            async for page in platform.ocpi.pages(url, token=partner.outgoing_token,
                                                  encoding=partner.outgoing_encoding,
                                                  module=module if version.routing_headers else None,
                                                  params=params, to_party=to_party):
                page = [await version.mapping.inbound(KINDS[module], obj, ctx) for obj in page]
                n, skipped = await _store(platform, module, page, allowed)
                stored += n
                problems += skipped
                if progress:
                    progress(module, stored)
        except (PartnerCallError, ServiceError) as exc:
            counts[module] = stored
            errors[module] = getattr(exc, "message", None) or str(exc)
            log.warning("pull of %s from %s failed: %s", module, partner.name, errors[module])
            continue
        counts[module] = stored
        state[module] = started
        async with platform.store.begin() as conn:  # merged with what another process may have pulled
            current = await platform.store.partners.get(conn, partner.pk)
            merged = {**(current.sync_state if current else {}), module: started}
            await platform.store.partners.update(conn, partner.pk, sync_state=merged)
    await _record(platform, partner, errors, problems)
    log.info("pulled from %s: %s", partner.name, counts)
    if errors:
        raise PullFailed(partner.name, counts, errors)
    return counts


async def _store(platform: Platform, module: str, page: list, allowed: list[tuple[str, str]]) -> tuple[int, list[str]]:
    if module == "locations":
        return await platform.locations.store_pulled(page, allowed), []
    if module == "tariffs":
        return await platform.tariffs.store_pulled(page, allowed), []
    if module == "sessions":
        return await platform.received.store_pulled_sessions(page, allowed)
    return await platform.received.store_pulled_cdrs(page, allowed)


async def _record(platform: Platform, partner: Partner, errors: dict[str, str], problems: list[str]) -> None:
    """Write the outcome on the partner: the failures and skipped objects, or clear an earlier
    pull failure."""
    message = None
    if errors or problems:
        parts = [f"{m}: {e}" for m, e in errors.items()]
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            parts.append(f"{len(problems)} objects skipped: " + "; ".join(problems[:3]) + more)
        message = f"{_ERROR_PREFIX}{partner.name} failed at {format_datetime(utcnow())}: " + " | ".join(parts)
    async with platform.store.connect() as conn:
        current = await platform.store.partners.get(conn, partner.pk)
    if current is None:
        return
    if message is None and not (current.last_error and current.last_error.startswith(_ERROR_PREFIX)):
        return  # nothing to record, nothing to clear
    async with platform.store.begin() as conn:
        await platform.store.partners.update(conn, partner.pk, last_error=message[:2000] if message else None)


async def pull_all(platform: Platform, *, full: bool = False) -> dict[str, dict[str, int] | str]:
    """One pull of every registered CPO partner; {partner: counts, or the error}."""
    async with platform.store.connect() as conn:
        partners = [p for p in await platform.store.partners.registered(conn) if p.has_role("CPO")]
    outcome: dict[str, dict[str, int] | str] = {}
    for partner in partners:
        try:
            outcome[partner.name] = await pull(platform, partner, full=full)
        except Exception as exc:  # recorded on the partner; the next round retries
            outcome[partner.name] = str(exc)
    return outcome


class Puller:
    """Pulls every CPO partner every `pull_interval` seconds while the server runs (eMSP role)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._locks: dict[int, asyncio.Lock] = {}
        self.rounds = 0

    def lock(self, partner_pk: int) -> asyncio.Lock:
        """Held while one partner is pulled: its periodic, CLI and first pulls run one at a time."""
        return self._locks.setdefault(partner_pk, asyncio.Lock())

    @property
    def enabled(self) -> bool:
        s = self.platform.settings
        return "EMSP" in s.roles and s.pull_interval > 0

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pull-sync")

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        interval = self.platform.settings.pull_interval
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
                return
            except TimeoutError:
                pass
            try:
                outcome = await pull_all(self.platform)
                log.info("periodic pull: %s", outcome)
            except Exception:
                log.exception("periodic pull failed; retrying in %ss", interval)
            self.rounds += 1


def install(platform: Platform) -> None:
    """After a partner registers: a hub's ClientInfo list is read; a CPO partner's data is pulled
    (when we play the eMSP role), also when a hub reports one of its CPO parties connected again."""

    async def on_registered(event) -> None:
        async with platform.store.connect() as conn:
            partner = await platform.store.partners.get(conn, event.data["partner_pk"])
        if partner is not None and partner.is_hub:
            await pull_client_info(platform, partner)
            async with platform.store.connect() as conn:
                partner = await platform.store.partners.get(conn, partner.pk) or partner
        if partner and partner.has_role("CPO") and "EMSP" in platform.settings.roles:
            try:
                await pull(platform, partner)
            except PullFailed as exc:  # recorded on the partner; the periodic pull or `partners sync` retries
                log.warning("first pull from %s: %s", partner.name, exc)
            except Exception as exc:  # the partner may not be ready
                log.warning("first pull from %s failed: %s", partner.name, exc)
                async with platform.store.begin() as conn:
                    await platform.store.partners.update(conn, partner.pk,
                                                         last_error=f"{_ERROR_PREFIX}{partner.name} failed: {exc}")

    async def on_party_connected(event) -> None:
        if event.data.get("role") != "CPO" or "EMSP" not in platform.settings.roles:
            return
        async with platform.store.connect() as conn:
            partner = await platform.store.partners.get(conn, event.data["partner_pk"])
        if partner is not None and partner.registered:
            try:
                await pull(platform, partner)
            except Exception as exc:  # recorded on the partner; the periodic pull retries
                log.warning("pull from %s after %s/%s connected again: %s", partner.name,
                            event.data.get("country_code"), event.data.get("party_id"), exc)

    platform.bus.subscribe("partner.registered", on_registered)
    platform.bus.subscribe("hub.party_connected", on_party_connected)

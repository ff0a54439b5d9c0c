"""Pull sync (we are the eMSP): read a CPO partner's sender endpoints page by page, following
Link headers; the first time everything, afterwards only what changed since the last pull."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from evroam.model.common import format_datetime, utcnow
from evroam.model.partners import Partner

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)

PULLED_MODULES = ("tariffs", "locations")
# An incremental pull asks for changes since the previous pull started, minus this margin, so a
# partner whose clock runs behind ours loses nothing (objects pulled twice are simply replaced).
CLOCK_MARGIN = timedelta(minutes=5)


async def pull(platform: Platform, partner: Partner, *, full: bool = False,
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Pull every module the partner sends; {module: objects stored}."""
    if not partner.registered or not partner.outgoing_token:
        raise ValueError(f"partner {partner.name!r} is not registered")
    allowed = partner.parties("CPO")
    counts: dict[str, int] = {}
    state = dict(partner.sync_state)
    for module in PULLED_MODULES:
        url = partner.endpoint(module, "SENDER")
        if not url or not allowed:
            continue
        started = format_datetime(utcnow() - CLOCK_MARGIN)
        params = {} if full or module not in state else {"date_from": state[module]}
        service = platform.locations if module == "locations" else platform.tariffs
        stored = 0
        async for page in platform.ocpi.pages(url, token=partner.outgoing_token, encoding=partner.outgoing_encoding,
                                              module=module, params=params):
            stored += await service.store_pulled(page, allowed)
            if progress:
                progress(module, stored)
        counts[module] = stored
        state[module] = started
        async with platform.store.begin() as conn:
            await platform.store.partners.update(conn, partner.pk, sync_state=state)
    log.info("pulled from %s: %s", partner.name, counts)
    return counts


def install(platform: Platform) -> None:
    """After a CPO partner registers, pull its data (when we play the eMSP role)."""
    if "EMSP" not in platform.settings.roles:
        return

    async def on_registered(event) -> None:
        async with platform.store.connect() as conn:
            partner = await platform.store.partners.get(conn, event.data["partner_pk"])
        if partner and partner.has_role("CPO"):
            try:
                await pull(platform, partner)
            except Exception as exc:  # the partner may not be ready; `partners sync` retries
                log.warning("first pull from %s failed: %s", partner.name, exc)
                async with platform.store.begin() as conn:
                    await platform.store.partners.update(conn, partner.pk, last_error=f"pull failed: {exc}")

    platform.bus.subscribe("partner.registered", on_registered)

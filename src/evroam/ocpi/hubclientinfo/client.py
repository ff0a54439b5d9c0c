"""Hubclientinfo module, our side toward a hub: read the ClientInfo list of its sender interface
(when it offers one) right after it registers, so its parties are known before it pushes any."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from evroam.model.partners import Partner
from evroam.ocpi.transport.errors import PartnerCallError
from evroam.services.errors import ServiceError

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)


async def pull_client_info(platform: Platform, hub: Partner) -> int:
    """Store every ClientInfo the hub lists; the number read."""
    url = hub.endpoint("hubclientinfo", "SENDER")
    if not url or not hub.is_hub or not hub.outgoing_token:
        return 0
    n = 0
    try:
        async for page in platform.ocpi.pages(url, token=hub.outgoing_token, encoding=hub.outgoing_encoding,
                                              module=None):  # a configuration module: no routing headers
            for info in page:
                if isinstance(info, dict) and info.get("country_code") and info.get("party_id"):
                    async with platform.store.connect() as conn:
                        hub = await platform.store.partners.get(conn, hub.pk) or hub
                    await platform.hub_parties.receive(hub, str(info["country_code"]), str(info["party_id"]), info)
                    n += 1
    except (PartnerCallError, ServiceError) as exc:
        log.warning("reading the ClientInfo list of hub %s failed: %s", hub.name, exc)
    return n

"""The parties a hub routes for, as its ClientInfo reports them (OCPI hubclientinfo module).

A hub partner acts for the parties its credentials list and for those it reports here: its
objects of these parties are accepted (checked by the routes through `Partner.owns`), and our
pushes to them go through it. A reported party that is our own, or one another partner record
holds, is kept with the reason it is refused and never acted for (the party claims of
registration stay in force through a hub).

While the hub reports a party other than CONNECTED, no push addressed to it is queued (the
outbox's `Pushes`); when it reports it CONNECTED again, that party is brought up to date: an eMSP
party gets the sessions and CDRs of its drivers that changed meanwhile, and for a CPO party
`hub.party_connected` asks for a pull of the hub (ocpi/sync.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson

from evroam.events import Bus
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.credentials import ClientInfo
from evroam.model.partners import Partner, party_of
from evroam.services.errors import Forbidden, Invalid, NotFound
from evroam.services.objects import validated
from evroam.services.ports import PartnerPushes
from evroam.settings import Settings
from evroam.store import Store

log = logging.getLogger(__name__)
CONNECTED = "CONNECTED"
_RESYNC_PAGE = 500


class HubParties:
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.pushes = pushes

    async def get(self, hub: Partner, country_code: str, party_id: str) -> dict[str, Any]:
        _is_hub(hub)
        key = (country_code.upper(), party_id.upper())
        for entry in hub.hub_parties:
            if party_of(entry) == key:
                return _client_info(entry)
        raise NotFound(f"no ClientInfo of {country_code}/{party_id} from this hub", kind="client_info")

    async def receive(self, hub: Partner, country_code: str, party_id: str, body: Any) -> bool:
        """A hub's ClientInfo of one party (PUT). True when the party is new to us."""
        _is_hub(hub)
        info = validated(ClientInfo, body).to_dict()
        if (info["country_code"].upper(), info["party_id"].upper()) != (country_code.upper(), party_id.upper()):
            raise Invalid(f"country_code/party_id: body says {info['country_code']}/{info['party_id']}, "
                          f"URL says {country_code}/{party_id}")
        reconnected = None
        async with self.store.begin() as conn:
            current = await self.store.partners.get(conn, hub.pk)
            if current is None:
                raise NotFound("the hub is no longer registered", kind="partner")
            entries = [dict(e) for e in current.hub_parties]
            key = (party_of(info), info["role"])
            old = next((e for e in entries if (party_of(e), e.get("role")) == key), None)
            if old is not None and parse_datetime(old["last_updated"]) > parse_datetime(info["last_updated"]):
                return False  # an older report than the one we hold
            entry = {**info, "refused": await self._refusal(conn, hub, info)}
            if entry["refused"] is None:
                del entry["refused"]
            if info["status"] != CONNECTED:
                entry["offline_since"] = (old or {}).get("offline_since") if old and old["status"] != CONNECTED \
                    else format_datetime(utcnow())
            elif old is not None and old["status"] != CONNECTED and "refused" not in entry:
                reconnected = old.get("offline_since") or old["last_updated"]
            entries = [e for e in entries if (party_of(e), e.get("role")) != key] + [entry]
            await self.store.partners.update(conn, hub.pk, hub_parties=entries)
        log.info("hub %s: %s/%s (%s) is %s", hub.name, info["country_code"], info["party_id"], info["role"],
                 info["status"])
        self.bus.publish("partner.changed", partner_pk=hub.pk)
        if reconnected is not None:
            await self.resync(hub, info["country_code"], info["party_id"], info["role"],
                              parse_datetime(reconnected))
        return old is None

    async def _refusal(self, conn, hub: Partner, info: dict[str, Any]) -> str | None:
        party = party_of(info)
        if party == (self.settings.country_code.upper(), self.settings.party_id.upper()):
            return "our own party"
        for other in await self.store.partners.list(conn):
            if other.pk != hub.pk and party in {party_of(r) for r in other.roles}:
                return f"held by partner {other.name}"
        return None

    async def resync(self, hub: Partner, country_code: str, party_id: str, role: str, since: datetime) -> int:
        """Bring a party the hub reports CONNECTED again up to date: what changed for it since it
        went away. The number of pushes queued."""
        n = 0
        if role == "EMSP" and "CPO" in self.settings.roles:
            ours = (self.settings.country_code, self.settings.party_id)
            async with self.store.begin() as conn:
                for repo, push in ((self.store.sessions, self.pushes.session_put), (self.store.cdrs,
                                                                                    self.pushes.cdr_post)):
                    offset = 0
                    while True:
                        rows, total = await repo.page(conn, ours, emsps=[(country_code, party_id)], date_from=since,
                                                      offset=offset, limit=_RESYNC_PAGE)
                        for raw in rows:
                            n += await push(conn, hub.pk, orjson.loads(raw))
                        offset += len(rows)
                        if not rows or offset >= total:
                            break
            if n:
                self.bus.publish("outbox.enqueued")
        self.bus.publish("hub.party_connected", partner_pk=hub.pk, country_code=country_code, party_id=party_id,
                         role=role)
        log.info("hub %s: %s/%s (%s) connected again: %d pushes queued", hub.name, country_code, party_id, role, n)
        return n


def _is_hub(partner: Partner) -> None:
    if not partner.is_hub:
        raise Forbidden("ClientInfo is accepted from hubs only (partners registered with the role HUB)")


def _client_info(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("party_id", "country_code", "role", "status", "last_updated") if k in entry}

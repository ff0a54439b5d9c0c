"""Drivers' tokens: ours (we are the eMSP: added by the operator or with a driver, pushed to our
CPO partners, listed to them and authorized in real time when a CPO asks; see services/drivers.py)
and those eMSP partners push to us (we are the CPO).

Pushing our tokens: every new or changed token goes, through the outbox, to every registered CPO
partner with a tokens receiver endpoint, except to CPOs the token's driver may not charge at.
When a CPO partner registers after tokens exist, all our tokens it may see are pushed to it at
once (OCPI advises the push model for normal operation; the CPO may still pull the full list
from our tokens sender at any time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from evroam.events import Bus
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.drivers import Driver
from evroam.model.partners import Partner
from evroam.model.tokens import Token
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import OwnObjectsService, merge_patch, same_id, validated
from evroam.services.ports import PartnerPushes
from evroam.settings import Settings
from evroam.store import Store

log = logging.getLogger(__name__)



def visible_to(driver: Driver | None, partner: Partner) -> bool:
    """May this CPO partner know the token (its driver may charge at one of its parties)?"""
    return driver is None or not driver.allowed_cpos or any(driver.may_charge_at(cc, pid)
                                                            for cc, pid in partner.parties("CPO"))


class TokenService(OwnObjectsService):
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes) -> None:
        super().__init__(store, bus, settings, pushes)
        if "EMSP" in settings.roles:
            bus.subscribe("partner.registered", self._on_partner_registered)

    # ------------------------------------------------------------------ our drivers' tokens

    async def add_own(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create or replace one of our tokens that belongs to no driver (defaults: RFID,
        whitelist ALLOWED, valid, issuer = our business name) and push it to our CPO partners.
        Tokens of drivers are managed through the drivers (services/drivers.py)."""
        cc, pid = self.owner
        if not isinstance(data, dict):
            raise Invalid("token: expected a JSON object")
        now = format_datetime(utcnow())
        raw = {"type": "RFID", "whitelist": "ALLOWED", "valid": True, "issuer": self.settings.business_name,
               **data, "country_code": cc, "party_id": pid, "last_updated": now}
        raw.setdefault("contract_id", raw.get("uid"))
        token = validated(Token, raw).to_dict()
        async with self.store.begin() as conn:
            held = await self.store.drivers.token_owner(conn, token["uid"], token["type"])
            if held is not None:
                raise Invalid(f"token {token['uid']!r} ({token['type']}) belongs to driver {held[0].name!r}: "
                              "change it through the driver (evroam drivers ...)")
            await self.put_own(conn, token)
        self.changed(token)
        return token

    async def put_own(self, conn, token: dict[str, Any], *, driver: Driver | None = None,
                      revoke_from: Iterable[Partner] = ()) -> int:
        """Store one of our tokens (inside the caller's transaction) and enqueue its push to every
        CPO partner that may know it; `revoke_from`: partners that knew it and may no longer
        (they get it once more, with valid = false). The number of pushes enqueued."""
        cc, pid = self.owner
        await self.store.tokens.put(conn, cc, pid, token["uid"], token["type"], token,
                                    parse_datetime(token["last_updated"]))
        n = 0
        for partner in await self.cpo_partners(conn):
            if visible_to(driver, partner):
                n += await self._push(conn, partner, token)
        for partner in revoke_from:
            n += await self._push(conn, partner, {**token, "valid": False})
        return n

    async def cpo_partners(self, conn) -> list[Partner]:
        """Registered CPO partners (and hubs, which pass tokens on to theirs) with a tokens receiver
        endpoint."""
        return [p for p in await self.store.partners.registered(conn)
                if (p.has_role("CPO") or p.is_hub) and p.endpoint("tokens", "RECEIVER")]

    async def _push(self, conn, partner: Partner, token: dict[str, Any]) -> int:
        return await self.pushes.token_put(conn, partner.pk, token)

    def changed(self, token: dict[str, Any]) -> None:
        cc, pid = self.owner
        self.bus.publish("token.changed", country_code=cc, party_id=pid, uid=token["uid"])
        self.bus.publish("outbox.enqueued")

    async def _on_partner_registered(self, event) -> None:
        """A CPO partner registered: push every one of our tokens it may know."""
        pk = event.data.get("partner_pk")
        async with self.store.begin() as conn:
            partner = next((p for p in await self.cpo_partners(conn) if p.pk == pk), None)
            if partner is None:
                return
            n = 0
            for token, driver in await self.store.drivers.own_tokens(conn, self.owner):
                if visible_to(driver, partner):
                    n += await self._push(conn, partner, token)
        if n:
            log.info("pushing %d tokens to %s, a CPO partner that registered", n, partner.name)
            self.bus.publish("outbox.enqueued")

    async def own(self, uid: str, token_type: str) -> dict[str, Any] | None:
        """One of our tokens (uids compare case-insensitively)."""
        async with self.store.connect() as conn:
            return await self.own_in(conn, uid, token_type)

    async def own_in(self, conn, uid: str, token_type: str) -> dict[str, Any] | None:
        cc, pid = self.owner
        token = await self.store.tokens.get(conn, cc, pid, uid, token_type)
        if token is None:
            found = [t for t in await self.store.tokens.find(conn, uid, token_type)
                     if same_id(t["country_code"], cc) and same_id(t["party_id"], pid)]
            token = found[0] if found else None
        return token

    async def page_own(self, *, parties: Sequence[tuple[str, str]] | None = None, date_from=None, date_to=None,
                       offset: int = 0, limit: int = 100):
        """A page of our tokens: with `parties` (a CPO partner's parties) only those it may
        know (tokens of drivers restricted to other CPOs are left out)."""
        async with self.store.connect() as conn:
            return await self.store.drivers.tokens_page(conn, self.owner, parties, date_from=date_from,
                                                        date_to=date_to, offset=offset, limit=limit)

    # ------------------------------------------------------------------ partners' tokens (we are the CPO)

    async def get(self, cc: str, pid: str, uid: str, token_type: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            token = await self.store.tokens.get(conn, cc, pid, uid, token_type)
        if token is None:
            raise NotFound(f"token {uid!r} ({token_type}) of {cc}/{pid} not found", kind="token")
        return token

    async def receive_put(self, cc: str, pid: str, uid: str, token_type: str, body: Any) -> bool:
        """An eMSP's PUT of a whole Token. True when new."""
        token = validated(Token, body)
        if not (same_id(token.country_code, cc) and same_id(token.party_id, pid)):
            raise Invalid(f"country_code/party_id: body says {token.country_code}/{token.party_id}, URL says {cc}/{pid}")
        if not same_id(token.uid, uid):
            raise Invalid(f"uid: body says {token.uid!r}, URL says {uid!r}")
        if token.type.value != token_type:
            raise Invalid(f"type: body says {token.type.value}, URL says {token_type}")
        data = token.to_dict()
        async with self.store.begin() as conn:
            created = await self.store.tokens.put(conn, cc, pid, uid, token_type, data, token.last_updated)
        self.bus.publish("token.received", country_code=cc.upper(), party_id=pid.upper(), uid=uid)
        return created

    async def receive_patch(self, cc: str, pid: str, uid: str, token_type: str, patch: Any) -> None:
        """An eMSP's PATCH: only the given fields change; last_updated is required."""
        async with self.store.begin() as conn:
            current = await self.store.tokens.get(conn, cc, pid, uid, token_type)
            if current is None:
                raise NotFound(f"token {uid!r} ({token_type}) of {cc}/{pid} not found", kind="token")
            for key in ("uid", "type", "country_code", "party_id"):
                if isinstance(patch, dict) and key in patch and not same_id(str(patch[key]), str(current[key])):
                    raise Invalid(f"{key}: cannot be changed by PATCH")
            token = validated(Token, merge_patch(current, patch)).to_dict()
            await self.store.tokens.put(conn, cc, pid, uid, token_type, token, parse_datetime(token["last_updated"]))
        self.bus.publish("token.received", country_code=cc.upper(), party_id=pid.upper(), uid=uid)

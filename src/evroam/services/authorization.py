"""Authorization of a driver's token at one of our chargers (we are the CPO).

Where the token comes from decides who decides:
- one of our own drivers' tokens: we decide (valid -> accepted);
- a token an eMSP partner pushed to us: its `whitelist` says whether we may decide locally
  (ALWAYS), may skip asking when the token is valid (ALLOWED), must ask and may decide
  locally only when the eMSP cannot be reached (ALLOWED_OFFLINE), or must always ask (NEVER).
  Asking is OCPI real-time authorization: POST {eMSP tokens sender}/{uid}/authorize.
- a token we do not know at all: refused.

A decision is kept for a while per charger and token, so the StartTransaction that follows an
Authorize carries the same authorization reference."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from evroam.events import Bus
from evroam.model.sessions import AuthMethod
from evroam.model.tokens import WhitelistType
from evroam.services.objects import same_id
from evroam.services.ports import PartnerCallFailed, PartnerCalls
from evroam.settings import Settings
from evroam.store import Store

log = logging.getLogger(__name__)

ACCEPTED, BLOCKED, EXPIRED, INVALID, NO_CREDIT = "Accepted", "Blocked", "Expired", "Invalid", "NoCredit"
_FROM_ALLOWED = {"ALLOWED": ACCEPTED, "BLOCKED": BLOCKED, "EXPIRED": EXPIRED, "NO_CREDIT": NO_CREDIT,
                 "NOT_ALLOWED": INVALID}
REMEMBER_SECONDS = 600.0


@dataclass
class Authorization:
    """A decision on a token, in protocol-neutral words (the OCPP handlers translate `status`)."""

    status: str  # Accepted | Blocked | Expired | Invalid | NoCredit
    token: dict[str, Any] | None = None  # the OCPI Token (None when unknown)
    auth_method: AuthMethod = AuthMethod.WHITELIST
    authorization_reference: str | None = None
    decided_by: str = "local"  # local | realtime | offline-fallback | command
    at: float = field(default_factory=time.monotonic)

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


class AuthorizationService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, partners: PartnerCalls) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.partners = partners
        self._recent: dict[tuple[str, str], Authorization] = {}
        # A token changed (blocked, pushed again by its eMSP) on any node or in a command-line
        # process: a remembered decision on it no longer holds.
        bus.subscribe("token.changed", self._forget, everywhere=True)
        bus.subscribe("token.received", self._forget, everywhere=True)
        bus.subscribe("driver.changed", lambda _e: self._recent.clear(), everywhere=True)

    def _forget(self, event) -> None:
        uid = str(event.data.get("uid") or "").casefold()
        if not uid:
            self._recent.clear()
            return
        for key in [k for k in self._recent if k[1] == uid]:
            del self._recent[key]

    def remembered(self, charger_id: str, id_tag: str) -> Authorization | None:
        found = self._recent.get((charger_id, id_tag.casefold()))
        if found is not None and time.monotonic() - found.at < REMEMBER_SECONDS:
            return found
        return None

    def remember(self, charger_id: str, id_tag: str, decision: Authorization) -> None:
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[(charger_id, id_tag.casefold())] = decision

    async def authorize(self, id_tag: str, *, token_type: str | None = None, charger_id: str | None = None,
                        location_id: str | None = None, evse_uids: list[str] | None = None) -> Authorization:
        decision = await self._decide(id_tag, token_type, location_id, evse_uids)
        if charger_id is not None:
            self.remember(charger_id, id_tag, decision)
        self.bus.publish("token.authorization", id_tag=id_tag, status=decision.status, decided_by=decision.decided_by)
        return decision

    async def _decide(self, id_tag: str, token_type: str | None, location_id: str | None,
                      evse_uids: list[str] | None) -> Authorization:
        async with self.store.connect() as conn:
            tokens = await self.store.tokens.find(conn, id_tag, token_type)
            if not tokens and token_type is not None:
                tokens = await self.store.tokens.find(conn, id_tag)
            partners = await self.store.partners.registered(conn)
        if not tokens:
            return Authorization(INVALID, decided_by="unknown")
        cc, pid = self.settings.country_code, self.settings.party_id
        # ours first, then partners' tokens in the order they were received (RFID first)
        tokens.sort(key=lambda t: (not (same_id(t["country_code"], cc) and same_id(t["party_id"], pid)),
                                   t.get("type") != "RFID"))
        token = tokens[0]
        local = Authorization(ACCEPTED if token.get("valid") else BLOCKED, token, AuthMethod.WHITELIST)
        if same_id(token["country_code"], cc) and same_id(token["party_id"], pid):
            return local
        whitelist = token.get("whitelist", WhitelistType.ALLOWED.value)
        if whitelist == WhitelistType.ALWAYS:
            return local
        if whitelist == WhitelistType.ALLOWED and token.get("valid"):
            return local
        partner = next((p for p in partners if p.owns(token["country_code"], token["party_id"], "EMSP")), None)
        try:
            return await self._realtime(partner, token, location_id, evse_uids)
        except PartnerCallFailed as exc:
            if exc.unknown:
                return Authorization(INVALID, token, AuthMethod.AUTH_REQUEST, decided_by="realtime")
            if not exc.retryable:
                log.warning("real-time authorization of %s refused by the eMSP: %s", id_tag, exc)
                return Authorization(INVALID, token, AuthMethod.AUTH_REQUEST, decided_by="realtime")
            log.warning("real-time authorization of %s: eMSP unreachable: %s", id_tag, exc)
            if whitelist == WhitelistType.ALLOWED_OFFLINE:
                local.decided_by = "offline-fallback"
                return local
            return Authorization(INVALID, token, AuthMethod.AUTH_REQUEST, decided_by="unreachable")

    async def _realtime(self, partner, token: dict[str, Any], location_id: str | None,
                        evse_uids: list[str] | None) -> Authorization:
        info = await self.partners.authorize(partner, token, location_id=location_id, evse_uids=evse_uids)
        status = _FROM_ALLOWED.get(str(info.get("allowed")), INVALID)
        answered = info.get("token") if isinstance(info.get("token"), dict) else None
        return Authorization(status, {**token, **(answered or {})}, AuthMethod.AUTH_REQUEST,
                             info.get("authorization_reference"), decided_by="realtime")

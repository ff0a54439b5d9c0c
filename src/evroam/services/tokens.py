"""Drivers' tokens: ours (we are the eMSP: added by the operator, pushed to our CPO partners,
authorized in real time when a CPO asks) and those eMSP partners push to us (we are the CPO)."""

from __future__ import annotations

import secrets
from typing import Any

from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.tokens import AllowedType, Token
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import OwnObjectsService, merge_patch, same_id, validated


class TokenService(OwnObjectsService):
    # ------------------------------------------------------------------ our drivers' tokens

    async def add_own(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create or replace one of our drivers' tokens (defaults: RFID, whitelist ALLOWED, valid,
        issuer = our business name) and push it to our CPO partners."""
        cc, pid = self.owner
        if not isinstance(data, dict):
            raise Invalid("token: expected a JSON object")
        now = format_datetime(utcnow())
        raw = {"type": "RFID", "whitelist": "ALLOWED", "valid": True, "issuer": self.settings.business_name,
               **data, "country_code": cc, "party_id": pid, "last_updated": now}
        raw.setdefault("contract_id", raw.get("uid"))
        token = validated(Token, raw).to_dict()
        async with self.store.begin() as conn:
            await self.store.tokens.put(conn, cc, pid, token["uid"], token["type"], token, parse_datetime(now))
            await self.pushes.token_put(conn, token)
        self.bus.publish("token.changed", country_code=cc, party_id=pid, uid=token["uid"])
        self.bus.publish("outbox.enqueued")
        return token

    async def authorize_own(self, uid: str, token_type: str, location: Any = None) -> dict[str, Any]:
        """Real-time authorization a CPO asks us for (tokens sender): an AuthorizationInfo.
        Unknown token: NotFound (OCPI 2004)."""
        cc, pid = self.owner
        async with self.store.connect() as conn:
            token = await self.store.tokens.get(conn, cc, pid, uid, token_type)
            if token is None:
                found = [t for t in await self.store.tokens.find(conn, uid, token_type)
                         if same_id(t["country_code"], cc) and same_id(t["party_id"], pid)]
                token = found[0] if found else None
        if token is None:
            raise NotFound(f"token {uid!r} ({token_type}) is unknown", kind="token")
        info: dict[str, Any] = {
            "allowed": (AllowedType.ALLOWED if token.get("valid") else AllowedType.BLOCKED).value,
            "token": token,
            "authorization_reference": secrets.token_hex(12),
        }
        if isinstance(location, dict) and location.get("location_id"):
            info["location"] = {k: v for k, v in location.items() if k in ("location_id", "evse_uids")}
        self.bus.publish("token.authorized", uid=uid, allowed=info["allowed"])
        return info

    async def page_own(self, *, date_from=None, date_to=None, offset: int = 0, limit: int = 100):
        cc, pid = self.owner
        async with self.store.connect() as conn:
            return await self.store.tokens.page(conn, cc, pid, date_from=date_from, date_to=date_to, offset=offset,
                                                limit=limit)

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

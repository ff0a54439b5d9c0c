"""Sessions and CDRs CPO partners push to us (we are the eMSP): stored per owning CPO party.
A PATCH of a Session appends the charging periods it carries; CDRs are immutable."""

from __future__ import annotations

from typing import Any

from evroam.events import Bus
from evroam.model.cdrs import CDR
from evroam.model.common import parse_datetime
from evroam.model.sessions import Session
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import merge_patch, same_id, validated
from evroam.store import Store


class ReceivedRecords:
    def __init__(self, store: Store, bus: Bus) -> None:
        self.store = store
        self.bus = bus

    async def session(self, cc: str, pid: str, session_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            found = await self.store.sessions.get(conn, cc, pid, session_id)
        if found is None:
            raise NotFound(f"session {session_id!r} of {cc}/{pid} not found", kind="session")
        return found

    async def session_put(self, cc: str, pid: str, session_id: str, body: Any) -> bool:
        session = validated(Session, body)
        if not (same_id(session.country_code, cc) and same_id(session.party_id, pid)):
            raise Invalid(f"country_code/party_id: body says {session.country_code}/{session.party_id}, "
                          f"URL says {cc}/{pid}")
        if not same_id(session.id, session_id):
            raise Invalid(f"id: body says {session.id!r}, URL says {session_id!r}")
        async with self.store.begin() as conn:
            created = await self.store.sessions.put(conn, cc, pid, session.id, session.to_dict(), session.last_updated)
        self.bus.publish("session.received", country_code=cc.upper(), party_id=pid.upper(), session_id=session_id,
                         status=session.status.value)
        return created

    async def session_patch(self, cc: str, pid: str, session_id: str, patch: Any) -> None:
        async with self.store.begin() as conn:
            current = await self.store.sessions.get(conn, cc, pid, session_id)
            if current is None:
                raise NotFound(f"session {session_id!r} of {cc}/{pid} not found", kind="session")
            for key in ("id", "country_code", "party_id"):
                if isinstance(patch, dict) and key in patch and not same_id(str(patch[key]), str(current[key])):
                    raise Invalid(f"{key}: cannot be changed by PATCH")
            merged = merge_patch(current, patch)
            if isinstance(patch.get("charging_periods"), list):  # PATCH appends periods (2.2+)
                merged["charging_periods"] = (current.get("charging_periods") or []) + patch["charging_periods"]
            session = validated(Session, merged).to_dict()
            await self.store.sessions.put(conn, cc, pid, current["id"], session,
                                          parse_datetime(session["last_updated"]))
        self.bus.publish("session.received", country_code=cc.upper(), party_id=pid.upper(), session_id=session_id,
                         status=session["status"])

    async def cdr_post(self, cc_allowed: list[tuple[str, str]], body: Any) -> dict[str, Any]:
        """A CPO's new CDR; it must belong to one of the caller's CPO parties. The same CDR
        posted again is accepted once (its first version stays)."""
        cdr = validated(CDR, body)
        if (cdr.country_code.upper(), cdr.party_id.upper()) not in cc_allowed:
            raise Invalid(f"country_code/party_id: {cdr.country_code}/{cdr.party_id} is not one of your CPO parties")
        data = cdr.to_dict()
        async with self.store.begin() as conn:
            if await self.store.cdrs.get(conn, cdr.country_code, cdr.party_id, cdr.id) is None:
                await self.store.cdrs.insert(conn, cdr.country_code, cdr.party_id, cdr.id, data, cdr.last_updated)
        self.bus.publish("cdr.received", country_code=cdr.country_code.upper(), party_id=cdr.party_id.upper(),
                         cdr_id=cdr.id)
        return data

    async def cdr(self, cc: str, pid: str, cdr_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            found = await self.store.cdrs.get(conn, cc, pid, cdr_id)
        if found is None:
            raise NotFound(f"CDR {cdr_id!r} of {cc}/{pid} not found", kind="cdr")
        return found

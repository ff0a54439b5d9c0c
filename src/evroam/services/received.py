"""Sessions and CDRs CPO partners push to us, or we pull from them (we are the eMSP): stored per
owning CPO party, with our party (the token's) beside them.

Sessions: PUT replaces the whole Session, its charging periods included; a PATCH changes only
the fields it carries, and the `charging_periods` it carries are appended (OCPI 2.2.1,
mod_sessions: PATCH); a period already stored is not appended twice (a resent PATCH).

CDRs are immutable: a CDR id that exists already with other content is refused and nothing
changes (corrections come as Credit CDRs); the very same CDR posted again (a CPO retrying after
a lost answer) is answered as the first time. A Credit CDR (`credit: true`) names the CDR it cancels in
`credit_reference_id`; that CDR must have been received from the same CPO party, must not be
credited already, and the credit carries its `total_cost` negated (the only negative amounts,
as mod_cdrs says), so summing `total_cost` over CDRs nets a credited CDR out. Other totals
(energy, time) stay as in the original: weigh them with `credit_sign`.

Every Session and CDR must be one of our drivers' (its `cdr_token` of our party); a CPO
partner only writes under its own parties (checked by the routes)."""

from __future__ import annotations

import logging
from typing import Any

from evroam.events import Bus
from evroam.model.cdrs import CDR
from evroam.model.common import parse_datetime
from evroam.model.sessions import Session
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import merge_patch, same_id, validated
from evroam.settings import Settings
from evroam.store import Store

log = logging.getLogger(__name__)

# OCPI numbers carry 4 decimals: amounts that differ by less are the same amount.
_EPSILON = 0.00005


def credit_sign(cdr: dict[str, Any]) -> int:
    """-1 for a Credit CDR, else 1: the factor for totals the spec leaves positive in a credit
    (total_energy, total_time ...). `total_cost` is already negative in a credit."""
    return -1 if cdr.get("credit") else 1


class ReceivedRecords:
    def __init__(self, store: Store, bus: Bus, settings: Settings | None = None) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings

    # ------------------------------------------------------------------ checks

    def _our_token(self, token: dict[str, Any], what: str) -> None:
        """The record's token must be one of ours (we are its eMSP)."""
        if self.settings is None:
            return
        ours = (self.settings.country_code, self.settings.party_id)
        cc, pid = str(token.get("country_code", "")), str(token.get("party_id", ""))
        if (cc.upper(), pid.upper()) != ours:
            raise Invalid(f"{what}cdr_token: {cc}/{pid} is not our party ({ours[0]}/{ours[1]}): "
                          "we only keep the records of our own drivers")

    # ------------------------------------------------------------------ sessions

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
        data = session.to_dict()
        self._our_token(data["cdr_token"], "")
        async with self.store.begin() as conn:
            current = await self.store.sessions.get(conn, cc, pid, session_id)
            stored_id = current["id"] if current else session.id
            created = await self.store.sessions.put(conn, cc, pid, stored_id, data, session.last_updated,
                                                    _emsp(data))
        self._session_event(cc, pid, data)
        return created

    async def session_patch(self, cc: str, pid: str, session_id: str, patch: Any, *, append_periods: bool = True) -> None:
        """`append_periods` False: the `charging_periods` a PATCH carries replace the stored ones
        (OCPI 2.1.1, where a PATCH replaces every field it names)."""
        if not isinstance(patch, dict):
            raise Invalid("expected a JSON object")
        async with self.store.begin() as conn:
            current = await self.store.sessions.get(conn, cc, pid, session_id)
            if current is None:
                raise NotFound(f"session {session_id!r} of {cc}/{pid} not found", kind="session")
            merged = merge_patch(current, patch)
            for key in ("id", "country_code", "party_id"):
                if key in patch and not same_id(str(patch[key]), str(current[key])):
                    raise Invalid(f"{key}: cannot be changed by PATCH")
            periods = patch.get("charging_periods")
            if periods is not None and not isinstance(periods, list):
                raise Invalid("charging_periods: expected a list of ChargingPeriod objects")
            # PATCH appends the periods it carries (an omitted or empty list changes nothing).
            stored = list(current.get("charging_periods") or []) if append_periods or periods is None else []
            new = [p for p in periods or [] if p not in stored]
            merged["charging_periods"] = stored + new
            if not merged["charging_periods"] and "charging_periods" not in current:
                del merged["charging_periods"]
            session = validated(Session, merged).to_dict()
            self._our_token(session["cdr_token"], "")
            await self.store.sessions.put(conn, cc, pid, current["id"], session,
                                          parse_datetime(session["last_updated"]))
        self._session_event(cc, pid, session)

    def _session_event(self, cc: str, pid: str, session: dict[str, Any]) -> None:
        self.bus.publish("session.received", country_code=cc.upper(), party_id=pid.upper(), session_id=session["id"],
                         status=session["status"], authorization_reference=session.get("authorization_reference"),
                         token_uid=session["cdr_token"]["uid"])

    async def store_pulled_sessions(self, sessions: list[Any], allowed: list[tuple[str, str]]) -> tuple[int, list[str]]:
        """Sessions read from a CPO's sender interface: each valid one of the CPO's parties and
        of our drivers is stored, unless we hold a newer version. (stored, problems)."""
        stored, problems, changed = 0, [], []
        async with self.store.begin() as conn:
            for raw in sessions:
                try:
                    session = validated(Session, raw, where=f"session {_id_of(raw)}")
                    data = session.to_dict()
                    _owned(data, allowed, "session")
                    self._our_token(data["cdr_token"], f"session {session.id}: ")
                except Invalid as exc:
                    problems.append(exc.message)
                    continue
                current = await self.store.sessions.get(conn, session.country_code, session.party_id, session.id)
                if current is not None and parse_datetime(current["last_updated"]) > session.last_updated:
                    continue  # what was pushed to us since is newer
                await self.store.sessions.put(conn, session.country_code, session.party_id,
                                              current["id"] if current else session.id, data, session.last_updated,
                                              _emsp(data))
                changed.append(data)
                stored += 1
        for data in changed:
            self._session_event(data["country_code"], data["party_id"], data)
        return stored, problems

    # ------------------------------------------------------------------ CDRs

    async def cdr_post(self, cc_allowed: list[tuple[str, str]], body: Any) -> dict[str, Any]:
        """A CPO's new CDR; it must belong to one of the caller's CPO parties and be new."""
        cdr = validated(CDR, body)
        data = cdr.to_dict()
        _owned(data, cc_allowed, "CDR")
        self._our_token(data["cdr_token"], "")
        async with self.store.begin() as conn:
            existing = await self.store.cdrs.get(conn, cdr.country_code, cdr.party_id, cdr.id)
            if existing == data:
                # The same CDR again: a CPO retrying a POST whose answer it lost. Answered as the
                # first time, nothing changes and no second event is raised.
                return existing
            if existing is not None:
                raise Invalid(f"id: CDR {cdr.id!r} of {cdr.country_code}/{cdr.party_id} was received before; "
                              "CDRs cannot be replaced (send a Credit CDR to correct one)")
            await self._insert_cdr(conn, data)
        self._cdr_event(data)
        return data

    async def _insert_cdr(self, conn, data: dict[str, Any]) -> None:
        cc, pid, cdr_id = data["country_code"], data["party_id"], data["id"]
        if data.get("credit"):
            original = await self.store.cdrs.get(conn, cc, pid, data["credit_reference_id"])
            _check_credit(data, original)
            credited = await self.store.cdr_credits.credit_of(conn, cc, pid, original["id"])
            if credited is not None:
                raise Invalid(f"credit_reference_id: CDR {original['id']!r} was already credited by CDR {credited!r}")
        else:
            if data.get("credit_reference_id"):
                raise Invalid("credit_reference_id: only a Credit CDR (credit: true) references another CDR")
            if len(cdr_id) > 36:
                raise Invalid(f"id: {cdr_id!r} is longer than 36 characters, which only a Credit CDR may be")
        await self.store.cdrs.insert(conn, cc, pid, cdr_id, data, parse_datetime(data["last_updated"]), _emsp(data))
        if data.get("credit"):
            await self.store.cdr_credits.link_credit(conn, cc, pid, data["credit_reference_id"], cdr_id)

    def _cdr_event(self, data: dict[str, Any]) -> None:
        self.bus.publish("cdr.received", country_code=data["country_code"].upper(), party_id=data["party_id"].upper(),
                         cdr_id=data["id"], credit=bool(data.get("credit")),
                         credit_reference_id=data.get("credit_reference_id"), session_id=data.get("session_id"),
                         token_uid=data["cdr_token"]["uid"])

    async def store_pulled_cdrs(self, cdrs: list[Any], allowed: list[tuple[str, str]]) -> tuple[int, list[str]]:
        """CDRs read from a CPO's sender interface: the new, valid ones of the CPO's parties and
        of our drivers are stored (one by one, so a credit can follow the CDR it cancels in the
        same page); those we hold already stay as they are. (CDRs now held, problems)."""
        stored, problems, added = 0, [], []
        for raw in cdrs:
            try:
                cdr = validated(CDR, raw, where=f"CDR {_id_of(raw)}")
                data = cdr.to_dict()
                _owned(data, allowed, "CDR")
                self._our_token(data["cdr_token"], f"CDR {cdr.id}: ")
                async with self.store.begin() as conn:
                    held = await self.store.cdrs.get(conn, cdr.country_code, cdr.party_id, cdr.id) is not None
                    if not held:
                        await self._insert_cdr(conn, data)
            except Invalid as exc:
                problems.append(exc.message if exc.message.startswith("CDR ") else f"CDR {_id_of(raw)}: {exc.message}")
                continue
            if not held:
                added.append(data)
            stored += 1
        for data in added:
            self._cdr_event(data)
        return stored, problems

    async def cdr(self, cc: str, pid: str, cdr_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            found = await self.store.cdrs.get(conn, cc, pid, cdr_id)
        if found is None:
            raise NotFound(f"CDR {cdr_id!r} of {cc}/{pid} not found", kind="cdr")
        return found

    async def credit_of(self, cc: str, pid: str, cdr_id: str) -> str | None:
        """The id of the Credit CDR that cancelled a received CDR, if any."""
        async with self.store.connect() as conn:
            return await self.store.cdr_credits.credit_of(conn, cc, pid, cdr_id)


def _id_of(raw: Any) -> str:
    return repr(raw.get("id")) if isinstance(raw, dict) else "?"


def _emsp(data: dict[str, Any]) -> tuple[str, str]:
    token = data["cdr_token"]
    return token["country_code"], token["party_id"]


def _owned(data: dict[str, Any], allowed: list[tuple[str, str]], kind: str) -> None:
    cc, pid = data["country_code"], data["party_id"]
    if (cc.upper(), pid.upper()) not in allowed:
        mine = ", ".join(f"{c}/{p}" for c, p in allowed) or "none"
        raise Invalid(f"country_code/party_id: {kind} {data['id']!r} belongs to {cc}/{pid}, "
                      f"which is not one of your CPO parties (yours: {mine})")


def _check_credit(credit: dict[str, Any], original: dict[str, Any] | None) -> None:
    """A Credit CDR against the CDR it cancels: same currency, total_cost negated."""
    ref = credit["credit_reference_id"]
    if original is None:
        raise Invalid(f"credit_reference_id: no CDR {ref!r} of {credit['country_code']}/{credit['party_id']} "
                      "was received: a Credit CDR must follow the CDR it cancels")
    if original.get("credit"):
        raise Invalid(f"credit_reference_id: CDR {ref!r} is itself a Credit CDR")
    if credit["currency"] != original["currency"]:
        raise Invalid(f"currency: the credit is in {credit['currency']}, CDR {ref!r} in {original['currency']}")
    want, got = original["total_cost"], credit["total_cost"]
    for part in ("excl_vat", "incl_vat"):
        if want.get(part) is None and got.get(part) is None:
            continue
        if want.get(part) is None or got.get(part) is None or abs(got[part] + want[part]) > _EPSILON:
            raise Invalid(f"total_cost.{part}: a Credit CDR carries the negated total_cost of CDR {ref!r} "
                          f"({_neg(want.get(part))}), got {got.get(part)}")


def _neg(value: float | None) -> str:
    return "absent" if value is None else f"{-value:g}"

"""Smart charging through OCPI: the `chargingprofiles` module (2.2.1) on both sides, and the
sessions module's charging preferences.

As CPO (Receiver interface), for a session of one of the caller's drivers:
- SetChargingProfile (PUT): the eMSP's profile becomes an upper bound of the session inside its
  site's plan (a session at a charger outside every site is planned alone under it); the load
  manager sends the resulting limit and the charger's answer is POSTed to `response_url` as a
  ChargingProfileResult.
- GET ActiveChargingProfile: the charger is asked (GetCompositeSchedule); a charger that cannot
  say is answered for with the limit in force (or the EVSE's maximum when none is); POSTed to
  `response_url` as an ActiveChargingProfileResult.
- DELETE: the eMSP's profile is removed (ClearProfileResult; UNKNOWN when none was set).
Each is answered at once with a ChargingProfileResponse (UNKNOWN_SESSION for a session we do not
know, REJECTED for one of another eMSP's drivers or one that has ended or whose charger is
offline, NOT_SUPPORTED when its charger refuses profiles); results go through the durable outbox.
Once an eMSP has set a profile on a session, every change of the limit in force is PUT to its
Sender interface as an ActiveChargingProfile.

Charging preferences (PUT {sessions}/{session_id}/charging_preferences): stored for the session
and used by the allocator (departure time and energy need: sessions are served by need).

As eMSP (Sender interface): `request_set` / `request_active` / `request_clear` ask a CPO partner,
the results POSTed to our `response_url` and the ActiveChargingProfiles the CPO PUTs are stored
(`evroam`'s admin API shows them)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from evroam.events import Bus, Event
from evroam.model.charging_profiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfile,
    ChargingProfileResponseType,
    ChargingProfileResult,
    ChargingProfileResultType,
    ClearProfileResult,
    SetChargingProfile,
)
from evroam.model.common import format_datetime, utcnow
from evroam.model.partners import Partner
from evroam.model.sessions import ChargingPreferences, ChargingPreferencesResponse
from evroam.services.errors import Invalid, NotFound
from evroam.services.load_management import LoadManager, evse_limits
from evroam.services.objects import same_id, validated
from evroam.services.ports import (
    CannotSay,
    ChargerCommand,
    ChargerControl,
    ChargerOffline,
    ChargerRefused,
    ChargerTimedOut,
    PartnerCallFailed,
    PartnerCalls,
    PartnerPushes,
    round_limit,
)
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.sites import ProfileRequest, ProfileRequestRepository, SmartSessionRepository

log = logging.getLogger(__name__)

MODULE = "chargingprofiles"
RESULT_MODELS = {"SET": ChargingProfileResult, "GET": ActiveChargingProfileResult, "CLEAR": ClearProfileResult}


class ChargingProfileService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes, partners: PartnerCalls,
                 load: LoadManager, control: ChargerControl) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.pushes = pushes
        self.partners = partners
        self.load = load
        self.control = control
        self.smart = SmartSessionRepository()
        self.requests = ProfileRequestRepository()
        self._tasks: set[asyncio.Task] = set()
        self._push_lock = asyncio.Lock()
        bus.subscribe("load.limit", self._on_limit)

    async def drain(self) -> None:
        """Wait until every result owed has been handed to the outbox."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def response(self, result: ChargingProfileResponseType) -> dict[str, Any]:
        return {"result": result.value, "timeout": self.settings.command_timeout}

    # ------------------------------------------------------------------ CPO: which session

    async def _session(self, partner: Partner, session_id: str):
        """(transaction, None) for a running session of the partner's drivers at a connected
        charger that takes profiles, or (None, the ChargingProfileResponse to answer)."""
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, session_id)
        if tx is None:
            return None, self.response(ChargingProfileResponseType.UNKNOWN_SESSION)
        emsp = tx.state.get("emsp") or ["", ""]
        if not partner.owns(emsp[0], emsp[1], "EMSP"):
            return None, self.response(ChargingProfileResponseType.REJECTED)
        if tx.status != "ACTIVE" or not self.control.is_connected(tx.charger_id):
            return None, self.response(ChargingProfileResponseType.REJECTED)
        if self.load.refuses_profiles(tx.charger_id):
            return None, self.response(ChargingProfileResponseType.NOT_SUPPORTED)
        return tx, None

    @staticmethod
    def _check_url(url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise Invalid(f"response_url: expected an absolute http(s) URL, got {url!r}")
        return url

    # ------------------------------------------------------------------ CPO: set, get, clear

    async def set_profile(self, partner: Partner, session_id: str, body: SetChargingProfile) -> dict[str, Any]:
        self._check_url(body.response_url)
        tx, refused = await self._session(partner, session_id)
        if refused is not None:
            return refused
        profile = body.charging_profile.to_dict()
        async with self.store.begin() as conn:
            before = await self.smart.get(conn, tx.session_id)
            await self.smart.update(conn, tx.session_id, partner_pk=partner.pk, profile=profile)
        self._spawn(self._apply_set(partner.pk, tx.session_id, body.response_url,
                                    before.profile if before is not None else None))
        return self.response(ChargingProfileResponseType.ACCEPTED)

    async def _apply_set(self, partner_pk: int, session_id: str, response_url: str, previous: Any) -> None:
        status = None
        try:
            status = await self.load.apply_session(session_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session %s: applying the eMSP's charging profile failed", session_id)
        accepted = status == "Accepted"
        async with self.store.begin() as conn:
            if accepted:
                await self.smart.update(conn, session_id, profile_set_at=utcnow())
            else:  # not in force: the bound is not kept
                await self.smart.update(conn, session_id, profile=previous)
            result = ChargingProfileResultType.ACCEPTED if accepted else ChargingProfileResultType.REJECTED
            await self.pushes.post_url(conn, partner_pk, response_url, {"result": result.value}, module=MODULE)
        self.bus.publish("smart_session.changed", session_id=session_id)
        self.bus.publish("chargingprofile.result", session_id=session_id, kind="SET", result=result.value)
        self.bus.publish("outbox.enqueued")
        if accepted:  # from now on the eMSP hears of every change, starting with this one
            async with self.store.connect() as conn:
                tx = await self.store.transactions.by_session(conn, session_id)
            current = self.load.in_force(tx.charger_id, tx.evse_number, tx.transaction_id) if tx else None
            if current is not None:
                await self._push_active(session_id, current.unit, current.limit)

    async def get_active(self, partner: Partner, session_id: str, duration: int, response_url: str) -> dict[str, Any]:
        self._check_url(response_url)
        if duration < 0:
            raise Invalid("duration: seconds, 0 or more")
        tx, refused = await self._session(partner, session_id)
        if refused is not None:
            return refused
        self._spawn(self._answer_active(partner.pk, tx, duration, response_url))
        return self.response(ChargingProfileResponseType.ACCEPTED)

    async def active_profile(self, tx, duration: int) -> tuple[ChargingProfileResultType, dict[str, Any] | None]:
        """The ActiveChargingProfile of a running transaction: the charger's composite schedule, or
        (when it cannot say) the limit in force / the EVSE's maximum."""
        try:
            answer = await self.control.send(tx.charger_id, ChargerCommand(
                "composite_schedule", {"evse_number": tx.evse_number, "duration": duration}),
                timeout=self.settings.load_profile_timeout)
        except ChargerRefused as exc:
            if exc.code not in ("NotSupported", "NotImplemented"):
                return ChargingProfileResultType.REJECTED, None
            answer = None
        except (ChargerOffline, ChargerTimedOut, CannotSay) as exc:
            log.info("charger %s: no composite schedule: %s", tx.charger_id, exc.message)
            return ChargingProfileResultType.REJECTED, None
        if answer is not None:
            if answer.status != "Accepted":
                return ChargingProfileResultType.REJECTED, None
            profile = answer.reading
            if profile is not None:
                if duration and "duration" not in profile["charging_profile"]:
                    profile["charging_profile"]["duration"] = duration
                return ChargingProfileResultType.ACCEPTED, validated(ActiveChargingProfile, profile).to_dict()
        return ChargingProfileResultType.ACCEPTED, await self._known_profile(tx, duration)

    async def _known_profile(self, tx, duration: int) -> dict[str, Any]:
        current = self.load.in_force(tx.charger_id, tx.evse_number, tx.transaction_id)
        if current is not None:
            unit, limit = current.unit, current.limit
        else:  # no limit of ours: the EVSE's maximum
            cc, pid = self.settings.country_code, self.settings.party_id
            async with self.store.connect() as conn:
                charger = await self.store.chargers.get(conn, tx.charger_id)
                location = await self.store.locations.get(conn, cc, pid, charger.location_id) \
                    if charger and charger.location_id else None
            phases, max_a, dc = evse_limits(location, tx.state.get("evse_uid"), tx.connector_number, 230.0)
            unit, limit = ("W", max_a * 3 * 230.0) if dc else ("A", max_a)
        profile: dict[str, Any] = {"charging_rate_unit": unit, "charging_profile_period": [
            {"start_period": 0, "limit": round_limit(limit)}]}
        if duration:
            profile["duration"] = duration
        return {"start_date_time": format_datetime(utcnow()), "charging_profile": profile}

    async def _answer_active(self, partner_pk: int, tx, duration: int, response_url: str) -> None:
        result, profile = await self.active_profile(tx, duration)
        body: dict[str, Any] = {"result": result.value}
        if profile is not None:
            body["profile"] = profile
        async with self.store.begin() as conn:
            await self.pushes.post_url(conn, partner_pk, response_url, body, module=MODULE)
        self.bus.publish("chargingprofile.result", session_id=tx.session_id, kind="GET", result=result.value)
        self.bus.publish("outbox.enqueued")

    async def clear_profile(self, partner: Partner, session_id: str, response_url: str) -> dict[str, Any]:
        self._check_url(response_url)
        tx, refused = await self._session(partner, session_id)
        if refused is not None:
            return refused
        async with self.store.begin() as conn:
            smart = await self.smart.get(conn, tx.session_id)
            had = smart is not None and smart.profile is not None
            if had:
                await self.smart.update(conn, tx.session_id, profile=None)
        self._spawn(self._apply_clear(partner.pk, tx.session_id, response_url, had))
        return self.response(ChargingProfileResponseType.ACCEPTED)

    async def _apply_clear(self, partner_pk: int, session_id: str, response_url: str, had: bool) -> None:
        result = ChargingProfileResultType.UNKNOWN
        if had:
            status = await self.load.apply_session(session_id)
            result = ChargingProfileResultType.ACCEPTED if status == "Accepted" else ChargingProfileResultType.REJECTED
        async with self.store.begin() as conn:
            await self.pushes.post_url(conn, partner_pk, response_url, {"result": result.value}, module=MODULE)
        self.bus.publish("smart_session.changed", session_id=session_id)
        self.bus.publish("chargingprofile.result", session_id=session_id, kind="CLEAR", result=result.value)
        self.bus.publish("outbox.enqueued")

    # ------------------------------------------------------------------ CPO: ActiveChargingProfile pushes

    async def _on_limit(self, event: Event) -> None:
        """The limit in force of a session changed: PUT the new ActiveChargingProfile to the eMSP
        that set a profile on it (only once it has done so successfully)."""
        session_id = event.data.get("session_id")
        if session_id:
            await self._push_active(session_id, event.data["unit"], event.data["limit"])

    async def _push_active(self, session_id: str, unit: str, limit: float) -> None:
        async with self._push_lock:  # one compare-and-push at a time: no duplicate pushes
            await self._push_active_locked(session_id, unit, limit)

    async def _push_active_locked(self, session_id: str, unit: str, limit: float) -> None:
        async with self.store.connect() as conn:
            smart = await self.smart.get(conn, session_id)
            if smart is None or smart.partner_pk is None or smart.profile_set_at is None:
                return
            partner = await self.store.partners.get(conn, smart.partner_pk)
        if partner is None or not partner.endpoint(MODULE, "SENDER"):
            log.info("session %s: the eMSP has no chargingprofiles Sender endpoint for ActiveChargingProfile",
                     session_id)
            return
        shape = {"charging_rate_unit": unit, "charging_profile_period": [{"start_period": 0, "limit": limit}]}
        if smart.active_pushed and smart.active_pushed.get("charging_profile") == shape:
            return
        active = {"start_date_time": format_datetime(utcnow()), "charging_profile": shape}
        async with self.store.begin() as conn:
            await self.pushes.active_profile_put(conn, partner, session_id, active)
            await self.smart.update(conn, session_id, active_pushed=active)
        self.bus.publish("outbox.enqueued")

    # ------------------------------------------------------------------ CPO: charging preferences

    async def set_preferences(self, partner: Partner, session_id: str, data: Any) -> str:
        """PUT charging_preferences: the ChargingPreferencesResponse value (stored when ACCEPTED).
        A session the partner does not see is NotFound; an EVSE that is neither
        CHARGING_PREFERENCES_CAPABLE nor load-managed is Invalid with `not_capable`."""
        prefs = validated(ChargingPreferences, data).to_dict()
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, session_id)
        emsp = (tx.state.get("emsp") or ["", ""]) if tx is not None else ["", ""]
        if tx is None or not partner.owns(emsp[0], emsp[1], "EMSP"):
            raise NotFound(f"unknown session {session_id!r}", kind="session")
        cc, pid = self.settings.country_code, self.settings.party_id
        async with self.store.connect() as conn:
            charger = await self.store.chargers.get(conn, tx.charger_id)
            location = await self.store.locations.get(conn, cc, pid, charger.location_id) \
                if charger and charger.location_id else None
        evse = next((e for e in (location or {}).get("evses") or []
                     if same_id(e["uid"], tx.state.get("evse_uid") or "")), None)
        managed = await self.load.manages(tx.charger_id)
        if not managed and "CHARGING_PREFERENCES_CAPABLE" not in ((evse or {}).get("capabilities") or []):
            raise NotCapable(f"EVSE {tx.state.get('evse_uid')} is not CHARGING_PREFERENCES_CAPABLE")
        if tx.status != "ACTIVE":
            return ChargingPreferencesResponse.NOT_POSSIBLE.value
        connector = next((c for c in (evse or {}).get("connectors") or []
                          if same_id(c["id"], tx.state.get("connector_id") or "")), None)
        profile_type = prefs["profile_type"]
        if profile_type != "REGULAR":
            tariffs = []
            async with self.store.connect() as conn:
                for tariff_id in (connector or {}).get("tariff_ids") or []:
                    tariff = await self.store.tariffs.get(conn, cc, pid, tariff_id)
                    if tariff is not None:
                        tariffs.append(tariff.get("type"))
            if f"PROFILE_{profile_type}" not in tariffs:
                return ChargingPreferencesResponse.PROFILE_TYPE_NOT_SUPPORTED.value
        departure, need = prefs.get("departure_time"), prefs.get("energy_need")
        if need is not None and departure is None:
            return ChargingPreferencesResponse.DEPARTURE_REQUIRED.value
        if departure is not None and need is None:
            return ChargingPreferencesResponse.ENERGY_NEED_REQUIRED.value
        if departure is not None:
            from evroam.model.common import parse_datetime

            left = parse_datetime(departure) - self.load.clock()
            phases, max_a, _dc = evse_limits(location, tx.state.get("evse_uid"), tx.connector_number, 230.0)
            possible_kwh = max_a * phases * 230.0 / 1000.0 * max(0.0, left / timedelta(hours=1))
            if left <= timedelta(0) or (need or 0) < 0 or (need or 0) > possible_kwh:
                return ChargingPreferencesResponse.NOT_POSSIBLE.value
        async with self.store.begin() as conn:
            await self.smart.update(conn, tx.session_id, preferences=prefs)
        self.bus.publish("smart_session.changed", session_id=tx.session_id, charger_id=tx.charger_id)
        return ChargingPreferencesResponse.ACCEPTED.value

    # ------------------------------------------------------------------ eMSP: asking a CPO

    async def _cpo_of(self, session_id: str, partner_name: str | None) -> Partner:
        async with self.store.connect() as conn:
            partners = [p for p in await self.store.partners.registered(conn) if p.has_role("CPO")]
            if partner_name is not None:
                partners = [p for p in partners if p.name == partner_name]
                if not partners:
                    raise NotFound(f"no registered CPO partner named {partner_name!r}", kind="partner")
                return partners[0]
            for partner in partners:
                for cc, pid in partner.parties("CPO"):
                    if await self.store.sessions.get(conn, cc, pid, session_id) is not None:
                        return partner
        raise NotFound(f"session {session_id!r}: no CPO partner sent it (give the partner's name)", kind="session")

    async def _ask(self, kind: str, session_id: str, partner_name: str | None, method: str, *,
                   body_of: Callable[[str], Any] | None = None, params: dict[str, Any] | None = None,
                   request: Any = None) -> dict[str, Any]:
        partner = await self._cpo_of(session_id, partner_name)
        if not partner.endpoint(MODULE, "RECEIVER"):
            raise Invalid(f"partner {partner.name} offers no chargingprofiles Receiver endpoint")
        request_id = secrets.token_hex(16)
        response_url = self.partners.results_url(MODULE, request_id, partner=partner)
        async with self.store.begin() as conn:
            await self.requests.create(conn, request_id=request_id, partner_pk=partner.pk, session_id=session_id,
                                       kind=kind, request=request)
        query = dict(params or {})
        if method != "PUT":
            query["response_url"] = response_url
        try:
            response = await self.partners.charging_profile(partner, method, session_id,
                                                            body=body_of(response_url) if body_of else None,
                                                            params=query or None)
        except PartnerCallFailed as exc:
            raise PartnerUnavailable(f"partner {partner.name}: {exc.message}") from None
        async with self.store.begin() as conn:
            await self.requests.set_response(conn, request_id, response)
        return {"request_id": request_id, "partner": partner.name, "session_id": session_id, "response": response}

    async def request_set(self, session_id: str, profile: Any, *, partner: str | None = None) -> dict[str, Any]:
        """PUT a ChargingProfile on a session at its CPO; the result arrives at our response_url."""
        checked = validated(ChargingProfile, profile, where="charging_profile").to_dict()
        return await self._ask("SET", session_id, partner, "PUT", request=checked,
                               body_of=lambda url: {"charging_profile": checked, "response_url": url})

    async def request_active(self, session_id: str, duration: int, *, partner: str | None = None) -> dict[str, Any]:
        if duration < 0:
            raise Invalid("duration: seconds, 0 or more")
        return await self._ask("GET", session_id, partner, "GET", params={"duration": duration},
                               request={"duration": duration})

    async def request_clear(self, session_id: str, *, partner: str | None = None) -> dict[str, Any]:
        return await self._ask("CLEAR", session_id, partner, "DELETE")

    # ------------------------------------------------------------------ eMSP: receiving

    async def receive_result(self, partner: Partner, request_id: str, data: Any) -> None:
        """A result POSTed to one of our response_urls by the CPO we asked."""
        async with self.store.connect() as conn:
            request = await self.requests.get(conn, request_id)
        if request is None or request.partner_pk != partner.pk:
            raise NotFound(f"unknown charging profile request {request_id!r}", kind="request")
        result = validated(RESULT_MODELS[request.kind], data).to_dict()
        async with self.store.begin() as conn:
            await self.requests.set_result(conn, request_id, result)
        self.bus.publish("chargingprofile.result_received", request_id=request_id, kind=request.kind,
                         session_id=request.session_id, result=result.get("result"))

    async def receive_active(self, partner: Partner, session_id: str, data: Any) -> None:
        """An ActiveChargingProfile a CPO PUT for one of our drivers' sessions."""
        active = validated(ActiveChargingProfile, data).to_dict()
        async with self.store.connect() as conn:
            asked = await self.requests.for_session(conn, partner.pk, session_id)
            known = any([await self.store.sessions.get(conn, cc, pid, session_id) is not None
                         for cc, pid in partner.parties("CPO")])
        if not asked and not known:
            raise NotFound(f"unknown session {session_id!r}", kind="session")
        async with self.store.begin() as conn:
            await self.requests.create(conn, request_id=None, partner_pk=partner.pk, session_id=session_id,
                                       kind="ACTIVE", result=active)
        self.bus.publish("chargingprofile.active_received", session_id=session_id, partner=partner.name)

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        """Our requests about a session and their results, and the ActiveChargingProfiles pushed."""
        async with self.store.connect() as conn:
            rows = await self.requests.for_session(conn, None, session_id)
        return [_request_view(r) for r in rows]


class PartnerUnavailable(Invalid):
    """The CPO could not be asked (unreachable, or it answered with an error)."""


class NotCapable(Invalid):
    """The EVSE takes no charging preferences (OCPI: HTTP 404 with status 2001)."""


def _request_view(r: ProfileRequest) -> dict[str, Any]:
    return {"request_id": r.request_id, "kind": r.kind, "session_id": r.session_id, "request": r.request,
            "response": r.response, "result": r.result, "created_at": r.created_at.isoformat(),
            "answered_at": r.answered_at.isoformat() if r.answered_at else None}


__all__ = ["ChargingProfileService", "NotCapable"]

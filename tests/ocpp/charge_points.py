"""Charge points for the tests, built on the `ocpp` library's own ChargePoint classes, talking
to a real evroam instance over a real WebSocket with HTTP Basic auth."""

from __future__ import annotations

import asyncio
import base64
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import ModuleType

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import connect

from evroam.demo import load_demo
from evroam.ocpi.credentials import handshake
from harness import wait_for

DRIVER_TAG = "04A1B2C3D4"
PASSWORD = "charger-pass-1"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def past(minutes: float) -> datetime:
    """A whole-second instant `minutes` ago."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)


class Commanded:
    """Mixin: a charge point that answers the central system's commands, records each CALL it
    gets as (action, payload) in `received`, answers with `answers[action]` (a status, default
    Accepted) and stays silent for the actions in `silent`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []
        self.answers: dict[str, str] = {}
        self.silent: set[str] = set()

    async def _answer(self, action: str, payload: dict, result, **fields):
        self.received.append((action, payload))
        if action in self.silent:
            await asyncio.sleep(3600)
        if "status" not in fields:
            fields["status"] = self.answers.get(action, "Accepted")
        return result(**fields)


class Commanded16(Commanded, ChargePoint16):
    @on("RemoteStartTransaction")
    async def _remote_start(self, **kw):
        return await self._answer("RemoteStartTransaction", kw, result16.RemoteStartTransaction)

    @on("RemoteStopTransaction")
    async def _remote_stop(self, **kw):
        return await self._answer("RemoteStopTransaction", kw, result16.RemoteStopTransaction)

    @on("ReserveNow")
    async def _reserve(self, **kw):
        return await self._answer("ReserveNow", kw, result16.ReserveNow)

    @on("CancelReservation")
    async def _cancel(self, **kw):
        return await self._answer("CancelReservation", kw, result16.CancelReservation)

    @on("UnlockConnector")
    async def _unlock(self, **kw):
        kw_status = self.answers.get("UnlockConnector", "Unlocked")
        return await self._answer("UnlockConnector", kw, result16.UnlockConnector, status=kw_status)

    @on("Reset")
    async def _reset(self, **kw):
        return await self._answer("Reset", kw, result16.Reset)

    @on("ChangeAvailability")
    async def _availability(self, **kw):
        return await self._answer("ChangeAvailability", kw, result16.ChangeAvailability)

    @on("TriggerMessage")
    async def _trigger(self, **kw):
        return await self._answer("TriggerMessage", kw, result16.TriggerMessage)

    @on("GetConfiguration")
    async def _get_config(self, key=None, **kw):
        self.received.append(("GetConfiguration", {"key": key}))
        known = {"HeartbeatInterval": "300", "MeterValueSampleInterval": "60"}
        asked = key or list(known)
        return result16.GetConfiguration(
            configuration_key=[{"key": k, "readonly": False, "value": known[k]} for k in asked if k in known],
            unknown_key=[k for k in asked if k not in known] or None)

    @on("ChangeConfiguration")
    async def _change_config(self, **kw):
        return await self._answer("ChangeConfiguration", kw, result16.ChangeConfiguration)

    @on("ClearCache")
    async def _clear_cache(self, **kw):
        return await self._answer("ClearCache", kw, result16.ClearCache)

    @on("GetLocalListVersion")
    async def _list_version(self, **kw):
        self.received.append(("GetLocalListVersion", kw))
        return result16.GetLocalListVersion(list_version=3)

    @on("SendLocalList")
    async def _send_list(self, **kw):
        return await self._answer("SendLocalList", kw, result16.SendLocalList)


class Commanded2(Commanded):
    result: ModuleType

    @on("RequestStartTransaction")
    async def _remote_start(self, **kw):
        return await self._answer("RequestStartTransaction", kw, self.result.RequestStartTransaction)

    @on("RequestStopTransaction")
    async def _remote_stop(self, **kw):
        return await self._answer("RequestStopTransaction", kw, self.result.RequestStopTransaction)

    @on("ReserveNow")
    async def _reserve(self, **kw):
        return await self._answer("ReserveNow", kw, self.result.ReserveNow)

    @on("CancelReservation")
    async def _cancel(self, **kw):
        return await self._answer("CancelReservation", kw, self.result.CancelReservation)

    @on("UnlockConnector")
    async def _unlock(self, **kw):
        return await self._answer("UnlockConnector", kw, self.result.UnlockConnector,
                                  status=self.answers.get("UnlockConnector", "Unlocked"))

    @on("Reset")
    async def _reset(self, **kw):
        return await self._answer("Reset", kw, self.result.Reset)

    @on("ChangeAvailability")
    async def _availability(self, **kw):
        return await self._answer("ChangeAvailability", kw, self.result.ChangeAvailability)

    @on("TriggerMessage")
    async def _trigger(self, **kw):
        return await self._answer("TriggerMessage", kw, self.result.TriggerMessage)

    @on("GetVariables")
    async def _get_variables(self, get_variable_data, **kw):
        self.received.append(("GetVariables", {"get_variable_data": get_variable_data}))
        known = {("OCPPCommCtrlr", "HeartbeatInterval"): "300"}
        out = []
        for item in get_variable_data:
            value = known.get((item["component"]["name"], item["variable"]["name"]))
            out.append({"attribute_status": "Accepted" if value is not None else "UnknownVariable",
                        "component": item["component"], "variable": item["variable"],
                        **({"attribute_value": value} if value is not None else {})})
        return self.result.GetVariables(get_variable_result=out)

    @on("SetVariables")
    async def _set_variables(self, set_variable_data, **kw):
        self.received.append(("SetVariables", {"set_variable_data": set_variable_data}))
        return self.result.SetVariables(set_variable_result=[
            {"attribute_status": "Accepted", "component": i["component"], "variable": i["variable"]}
            for i in set_variable_data])

    @on("ClearCache")
    async def _clear_cache(self, **kw):
        return await self._answer("ClearCache", kw, self.result.ClearCache)

    @on("GetLocalListVersion")
    async def _list_version(self, **kw):
        self.received.append(("GetLocalListVersion", kw))
        return self.result.GetLocalListVersion(version_number=3)

    @on("SendLocalList")
    async def _send_list(self, **kw):
        return await self._answer("SendLocalList", kw, self.result.SendLocalList)


class Commanded201(Commanded2, ChargePoint201):
    result = result201


class Commanded21(Commanded2, ChargePoint21):
    result = result21


COMMANDED = {"1.6": Commanded16, "2.0.1": Commanded201, "2.1": Commanded21}


@asynccontextmanager
async def charge_point(instance, charger_id: str, *, version: str = "1.6", password: str | None = PASSWORD,
                       cls=None):
    """A connected ChargePoint of the given OCPP version, serving its side of the connection
    (`cls`: a ChargePoint class of that version, e.g. COMMANDED[version])."""
    cls = cls or {"1.6": ChargePoint16, "2.0.1": ChargePoint201, "2.1": ChargePoint21}[version]
    headers = basic(charger_id, password) if password is not None else {}
    ws = await connect(instance.ocpp_url + charger_id, subprotocols=[f"ocpp{version}"], additional_headers=headers)
    cp = cls(charger_id, ws, response_timeout=10)
    task = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()


async def roaming_pair(make_instance, *, whitelist: str = "ALWAYS", cpo_extra: dict | None = None,
                       version: str | None = None):
    """A CPO (demo locations and tariffs) and an eMSP registered with each other (on `version`,
    default the highest both speak); the eMSP's driver token pushed to the CPO; charger CP-1 maps
    connector/EVSE 1 to the DC EVSE of EVR-GENT-1 (tariff DC-1: 0.50 start + 0.25/kWh, parking
    2.00/h)."""
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",),
                              extra={"session_push_interval": 0, **(cpo_extra or {})})
    emsp = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    assert await load_demo(cpo.platform)
    _, token_a = await handshake.invite(cpo.platform, "emsp-partner")
    await handshake.register_with(emsp.platform, "cpo-partner", cpo.versions_url, token_a, version)
    await emsp.platform.tokens.add_own({"uid": DRIVER_TAG, "contract_id": "DE-MSP-C00001-1", "whitelist": whitelist})

    async def token_at_cpo():
        async with cpo.platform.store.connect() as conn:
            return await cpo.platform.store.tokens.get(conn, "DE", "MSP", DRIVER_TAG, "RFID")

    await wait_for(token_at_cpo)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E3", 2: "EVR-GENT-1-E1"})
    return cpo, emsp


async def evse_status_at(emsp, evse_uid: str, location_id: str = "EVR-GENT-1") -> str | None:
    async with emsp.platform.store.connect() as conn:
        loc = await emsp.platform.store.locations.get(conn, "NL", "CPO", location_id)
    if loc is None:
        return None
    return next((e["status"] for e in loc["evses"] if e["uid"] == evse_uid), None)


async def cdr_at(emsp, cdr_id: str):
    async with emsp.platform.store.connect() as conn:
        return await emsp.platform.store.cdrs.get(conn, "NL", "CPO", cdr_id)


async def session_at(emsp, session_id: str):
    async with emsp.platform.store.connect() as conn:
        return await emsp.platform.store.sessions.get(conn, "NL", "CPO", session_id)


async def wait_cdr(emsp, cdr_id: str, timeout: float = 10.0):  # noqa: ASYNC109
    return await wait_for(lambda: cdr_at(emsp, cdr_id), timeout=timeout)


def session_statuses(emsp) -> list[str]:
    """The statuses of the Sessions the eMSP receives, in order."""
    seen: list[str] = []
    emsp.platform.bus.subscribe("session.received", lambda e: seen.append(e.data["status"]))
    return seen


class Profiled:
    """Mixin (after a Commanded class): a charge point that takes charging profiles. Every
    SetChargingProfile / ClearChargingProfile is recorded in `profile_log` as (monotonic time,
    action, payload) when answered Accepted, and applied: `tx_limits` {EVSE/connector number:
    (transaction id, limit, unit)} holds the TxProfiles in force, `max_limit` the charger maximum.
    `answers["SetChargingProfile"]` = "Rejected" refuses them; `unsupported` answers a CALLERROR
    NotSupported. GetCompositeSchedule answers the TxProfile in force."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.profile_log: list[tuple[float, str, dict]] = []
        self.tx_limits: dict[int, tuple[str, float, str]] = {}
        self.max_limit: tuple[float, str] | None = None
        self.default_limit: tuple[float, str] | None = None  # TxDefaultProfile: new transactions' limit
        self.unsupported = False

    def _refuse(self, action: str) -> str | None:
        from ocpp.exceptions import NotSupportedError

        if self.unsupported:
            raise NotSupportedError(details={"cause": f"{action} is not supported by this test charge point"})
        return None if self.answers.get(action, "Accepted") == "Accepted" else self.answers[action]

    def _set(self, number: int, profile: dict, schedule: dict) -> None:
        period = schedule["charging_schedule_period"][0]
        purpose = profile["charging_profile_purpose"]
        if purpose == "TxProfile":
            self.tx_limits[number] = (str(profile.get("transaction_id")), float(period["limit"]),
                                      schedule["charging_rate_unit"])
        elif purpose == "TxDefaultProfile":
            self.default_limit = (float(period["limit"]), schedule["charging_rate_unit"])
        else:
            self.max_limit = (float(period["limit"]), schedule["charging_rate_unit"])


class Profiled16(Profiled, Commanded16):
    @on("SetChargingProfile")
    async def _set_profile(self, connector_id, cs_charging_profiles, **kw):
        self.received.append(("SetChargingProfile", {"connector_id": connector_id,
                                                     "cs_charging_profiles": cs_charging_profiles}))
        refused = self._refuse("SetChargingProfile")
        if refused:
            return result16.SetChargingProfile(status=refused)
        self._set(connector_id, cs_charging_profiles, cs_charging_profiles["charging_schedule"])
        self.profile_log.append((asyncio.get_running_loop().time(), "SetChargingProfile",
                                 {"connector_id": connector_id, "cs_charging_profiles": cs_charging_profiles}))
        return result16.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    async def _clear_profile(self, id=None, connector_id=None, charging_profile_purpose=None, **kw):  # noqa: A002
        payload = {"id": id, "connector_id": connector_id, "charging_profile_purpose": charging_profile_purpose, **kw}
        self.received.append(("ClearChargingProfile", payload))
        if connector_id == 0 and charging_profile_purpose == "ChargePointMaxProfile" and self.max_limit:
            self.max_limit = None
            self.profile_log.append((asyncio.get_running_loop().time(), "ClearChargingProfile", payload))
            return result16.ClearChargingProfile(status="Accepted")
        if connector_id == 0 and charging_profile_purpose == "TxDefaultProfile" and self.default_limit:
            self.default_limit = None
            self.profile_log.append((asyncio.get_running_loop().time(), "ClearChargingProfile", payload))
            return result16.ClearChargingProfile(status="Accepted")
        if connector_id not in self.tx_limits:
            return result16.ClearChargingProfile(status="Unknown")
        self.tx_limits.pop(connector_id)
        self.profile_log.append((asyncio.get_running_loop().time(), "ClearChargingProfile", payload))
        return result16.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    async def _composite(self, connector_id, duration, charging_rate_unit=None, **kw):
        self.received.append(("GetCompositeSchedule", {"connector_id": connector_id, "duration": duration}))
        self._refuse("GetCompositeSchedule")
        if connector_id not in self.tx_limits:
            return result16.GetCompositeSchedule(status="Rejected")
        _, limit, unit = self.tx_limits[connector_id]
        return result16.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=iso(datetime.now(UTC)),
            charging_schedule={"duration": duration, "charging_rate_unit": unit,
                               "charging_schedule_period": [{"start_period": 0, "limit": limit}]})


class Profiled2(Profiled):
    @on("SetChargingProfile")
    async def _set_profile(self, evse_id, charging_profile, **kw):
        self.received.append(("SetChargingProfile", {"evse_id": evse_id, "charging_profile": charging_profile}))
        refused = self._refuse("SetChargingProfile")
        if refused:
            return self.result.SetChargingProfile(status=refused)
        self._set(evse_id, charging_profile, charging_profile["charging_schedule"][0])
        self.profile_log.append((asyncio.get_running_loop().time(), "SetChargingProfile",
                                 {"evse_id": evse_id, "charging_profile": charging_profile}))
        return self.result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    async def _clear_profile(self, charging_profile_id=None, charging_profile_criteria=None, **kw):
        payload = {"charging_profile_id": charging_profile_id, "charging_profile_criteria": charging_profile_criteria}
        self.received.append(("ClearChargingProfile", payload))
        evse = (charging_profile_criteria or {}).get("evse_id")
        purpose = (charging_profile_criteria or {}).get("charging_profile_purpose")
        if evse == 0 and purpose == "TxDefaultProfile" and self.default_limit:
            self.default_limit = None
            self.profile_log.append((asyncio.get_running_loop().time(), "ClearChargingProfile", payload))
            return self.result.ClearChargingProfile(status="Accepted")
        if evse == 0 and self.max_limit:
            self.max_limit = None
            self.profile_log.append((asyncio.get_running_loop().time(), "ClearChargingProfile", payload))
            return self.result.ClearChargingProfile(status="Accepted")
        if evse not in self.tx_limits:
            return self.result.ClearChargingProfile(status="Unknown")
        self.tx_limits.pop(evse)
        self.profile_log.append((asyncio.get_running_loop().time(), "ClearChargingProfile", payload))
        return self.result.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    async def _composite(self, duration, evse_id, charging_rate_unit=None, **kw):
        self.received.append(("GetCompositeSchedule", {"evse_id": evse_id, "duration": duration}))
        self._refuse("GetCompositeSchedule")
        if evse_id not in self.tx_limits:
            return self.result.GetCompositeSchedule(status="Rejected")
        _, limit, unit = self.tx_limits[evse_id]
        return self.result.GetCompositeSchedule(status="Accepted", schedule={
            "evse_id": evse_id, "duration": duration, "schedule_start": iso(datetime.now(UTC)),
            "charging_rate_unit": unit, "charging_schedule_period": [{"start_period": 0, "limit": limit}]})


class Profiled201(Profiled2, Commanded201):
    pass


class Profiled21(Profiled2, Commanded21):
    pass


PROFILED = {"1.6": Profiled16, "2.0.1": Profiled201, "2.1": Profiled21}

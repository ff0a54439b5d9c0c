"""OCPP 2.0.1 (and 2.1): what a charging station tells the central system, translated into
service calls.

EVSE numbers (evseId) are the numbers of the charger's EVSE mapping; connectors within an EVSE
map to the OCPI EVSE's connectors in order. evseId 0 is the whole station. A transaction is
told in TransactionEvents: Started, Updated, Ended, numbered by seqNo; the idToken may come in
any of them, and events a station queued while offline arrive late (offline = true) with their
original timestamps.

Numbers and times are read strictly (`evroam.ocpp.values`): a bad one is answered with the
CALLERROR the specification names, nothing stored; an Ended event is never refused for its meter
data (values that cannot be read are left out and flagged). An empty transactionId, or an
evse.id / connectorId below 1, is a PropertyConstraintViolation. A transaction started on an
EVSE the charger's mapping does not know is answered Invalid and stored REFUSED. An Updated or
Ended event of a transaction we never saw start is answered and stored once per transaction id:
on a known EVSE it is a transaction like any other (billed once its token is accepted, flagged
as an orphan); on an unknown or unnamed EVSE it is an ORPHAN, never billed."""

from __future__ import annotations

import logging

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as call_result21
from ocpp.v21.enums import Action as Action21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as call_result201
from ocpp.v201.enums import Action

from evroam.ocpp import status_map, values
from evroam.ocpp.common import REGISTRATION, id_token_info_2, now
from evroam.ocpp.connection import ChargerConnection
from evroam.ocpp.meter import energy_at, meter_data_2
from evroam.services.charging import ORPHAN, REFUSED

log = logging.getLogger(__name__)

# IdTokenType.type -> OCPI TokenType (None: look the token up whatever its type)
TOKEN_TYPES = {"ISO14443": "RFID", "ISO15693": "RFID", "Central": "APP_USER"}
CHARGING_STATES = {"Charging"}


class Handlers2(ChargerConnection):
    """The handlers; `result` is the version's call_result module."""

    result = call_result201

    @on(Action.boot_notification)
    async def on_boot_notification(self, charging_station: dict, reason: str, **_):
        boot = {"reason": reason, **{k: v for k, v in charging_station.items() if isinstance(v, str)}}
        status = await self.platform.chargers.boot(self.id, boot)
        return self.result.BootNotification(current_time=now(), interval=self.platform.settings.ocpp_heartbeat_interval,
                                            status=REGISTRATION[status])

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_):
        self.platform.chargers.seen(self.id)
        return self.result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status_notification(self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_):
        values.timestamp(timestamp)
        if evse_id == 0:
            await self.platform.chargers.station_status(self.id, status_map.STATION.get(connector_status))
        else:
            await self.platform.chargers.connector_status(self.id, evse_id, connector_id,
                                                          status_map.connector_status(connector_status, "2.0.1"))
        return self.result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict, **_):
        if not await self.platform.chargers.is_accepted(self.id):
            return self.result.Authorize(id_token_info={"status": "Invalid"})
        place = await self.platform.chargers.evse_of(self.id, 1)
        decision = await self.platform.authorization.authorize(
            id_token["id_token"], token_type=TOKEN_TYPES.get(id_token.get("type")), charger_id=self.id,
            location_id=place[0].location_id if place else None)
        return self.result.Authorize(id_token_info=id_token_info_2(decision))

    @on(Action.transaction_event)
    async def on_transaction_event(self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int,
                                   transaction_info: dict, meter_value: list | None = None, evse: dict | None = None,
                                   id_token: dict | None = None, offline: bool | None = None, **_):
        charging = self.platform.charging
        at = values.timestamp(timestamp)
        tx_id = transaction_info["transaction_id"]
        if not tx_id.strip():
            raise PropertyConstraintViolationError(details={"cause": "transactionId must not be empty"})
        evse_number, connector_number = _evse(evse)
        ended = event_type == "Ended"
        data = meter_data_2(meter_value, lenient=ended)
        readings = data.readings
        state = transaction_info.get("charging_state")
        tag = id_token["id_token"] if id_token and id_token.get("type") != "NoAuthorization" else None
        token_type = TOKEN_TYPES.get(id_token.get("type")) if id_token else None
        decision = None
        if not await self.platform.chargers.is_accepted(self.id):
            return self.result.TransactionEvent(id_token_info={"status": "Invalid"} if id_token else None)
        tx = await charging.get_transaction(self.id, tx_id)
        if tx is None:  # Started, or a later event whose Started never arrived (an orphan)
            late = event_type != "Started"
            tx, decision = await charging.start_transaction(
                self.id, evse_number=evse_number if evse_number is not None or not late else 0,
                connector_number=connector_number, id_tag=tag, token_type=token_type,
                started_at=min([at, *(r.timestamp for r in readings)]) if late else at,
                meter_start_wh=energy_at(readings, "Transaction.Begin"), transaction_id=tx_id,
                remote_start_id=transaction_info.get("remote_start_id"), charging=state in CHARGING_STATES,
                readings=readings, seq_no=seq_no, unmapped=ORPHAN if late else REFUSED,
                orphan=f"its first event was {event_type} (seqNo {seq_no}): no Started" if late else None)
        elif seq_no in tx.state.get("seq", []):
            log.info("charger %s resent TransactionEvent %s of %s; already handled", self.id, seq_no, tx_id)
        else:
            if evse_number is not None and tx.state.get("evse_pending"):
                tx = await charging.place_transaction(self.id, tx_id, evse_number, connector_number) or tx
            if tag and tx.session_id is None:
                decision = await charging.authorize_transaction(self.id, tx_id, tag, token_type=token_type)
            if not ended:
                await charging.add_readings(self.id, tx_id, readings, charging=state in CHARGING_STATES,
                                            seq_no=seq_no)
        if ended:
            await charging.stop_transaction(self.id, tx_id, stopped_at=at, readings=readings,
                                            reason=transaction_info.get("stopped_reason"), seq_no=seq_no,
                                            flags={"dropped": data.dropped[:20]} if data.dropped else None)
        if tx.status in (REFUSED, ORPHAN):  # never billed: told so, with or without a token
            return self.result.TransactionEvent(id_token_info={"status": "Invalid"})
        if id_token is None:
            return self.result.TransactionEvent()
        if decision is None:
            current = await charging.get_transaction(self.id, tx_id)
            status = current.state.get("auth_status") if current else None
            return self.result.TransactionEvent(id_token_info={"status": status or "Invalid"})
        return self.result.TransactionEvent(id_token_info=id_token_info_2(decision))

    @on(Action.meter_values)
    async def on_meter_values(self, evse_id: int, meter_value: list, **_):
        meter_data_2(meter_value)  # read (a bad value is refused), but outside transactions: not part of a session
        return self.result.MeterValues()

    @on(Action.notify_event)
    async def on_notify_event(self, generated_at: str, seq_no: int, event_data: list, **_):
        values.timestamp(generated_at, "generatedAt")
        self.platform.bus.publish("ocpp.notify_event", charger_id=self.id, event_data=event_data)
        return self.result.NotifyEvent()

    @on(Action.notify_report)
    async def on_notify_report(self, request_id: int, generated_at: str, seq_no: int, report_data: list | None = None,
                               tbc: bool | None = None, **_):
        values.timestamp(generated_at, "generatedAt")
        self.platform.bus.publish("ocpp.notify_report", charger_id=self.id, request_id=request_id, seq_no=seq_no,
                                  report_data=report_data or [], tbc=bool(tbc))
        return self.result.NotifyReport()

    @on(Action.security_event_notification)
    async def on_security_event(self, type: str, timestamp: str, **_):
        values.timestamp(timestamp)
        log.info("charger %s security event %s at %s", self.id, type, timestamp)
        return self.result.SecurityEventNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, status: str, **_):
        self.platform.bus.publish("ocpp.firmware_status", charger_id=self.id, status=status)
        return self.result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, status: str, **_):
        self.platform.bus.publish("ocpp.log_status", charger_id=self.id, status=status)
        return self.result.LogStatusNotification()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_):
        return self.result.DataTransfer(status="UnknownVendorId")


def _evse(evse: dict | None) -> tuple[int | None, int]:
    """(EVSE number or None when not named, connector number) of a TransactionEvent's evse."""
    if evse is None:
        return None, 1
    number, connector = evse["id"], evse.get("connector_id")
    if number < 1 or (connector is not None and connector < 1):
        raise PropertyConstraintViolationError(
            details={"cause": f"evse id {number} / connectorId {connector} must be > 0"})
    return number, connector or 1


class Charger201(Handlers2, ChargePoint201):
    _actions = frozenset(a.value for a in Action)
    result = call_result201


class Charger21(Handlers2, ChargePoint21):
    _actions = frozenset(a.value for a in Action21)
    result = call_result21

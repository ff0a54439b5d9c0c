"""OCPP 1.6J: what a charger tells the central system, translated into service calls.

Connector numbers (connectorId) are the numbers of the charger's EVSE mapping; each 1.6
connector is one OCPI EVSE (its first connector). connectorId 0 is the whole station.

Numbers and times are read strictly (`evroam.ocpp.values`): a bad one is answered with the
CALLERROR the specification names, nothing stored. A StartTransaction on connectorId 0 or
below (the specification requires > 0) is a PropertyConstraintViolation; on a connector the
charger's mapping does not know it is answered Invalid (and stored REFUSED, never billed). A
StopTransaction is never refused for its meter data (that would leave the transaction open
for ever): values it carries that cannot be read are left out and flagged, an impossible
meterStop is ignored (billed up to the last plausible reading)."""

from __future__ import annotations

import logging

from ocpp.exceptions import OCPPError, PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from evroam.ocpp import status_map, values
from evroam.ocpp.common import REGISTRATION, id_tag_info_16, now
from evroam.ocpp.connection import ChargerConnection
from evroam.ocpp.meter import meter_data_16, meter_values_16, readings_16

log = logging.getLogger(__name__)


class Charger16(ChargerConnection, ChargePoint):
    _actions = frozenset(a.value for a in Action)
    _fast = {"MeterValues": "_fast_meter_values", "Heartbeat": "_fast_heartbeat"}

    # The busiest CALLs, read straight from the received payload (see ChargerConnection._fast).

    async def _fast_meter_values(self, payload: dict) -> dict | None:
        read = meter_values_16(payload)
        if read is None:
            return None
        await self._meter_values(*read)
        return {}

    async def _fast_heartbeat(self, payload: dict) -> dict | None:
        if payload:
            return None
        self.platform.chargers.seen(self.id)
        return {"currentTime": now()}

    @on(Action.boot_notification)
    async def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **info):
        boot = {"vendor": charge_point_vendor, "model": charge_point_model,
                **{k: v for k, v in info.items() if isinstance(v, str)}}
        status = await self.platform.chargers.boot(self.id, boot)
        return call_result.BootNotification(current_time=now(), interval=self.platform.settings.ocpp_heartbeat_interval,
                                            status=REGISTRATION[status])

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        self.platform.chargers.seen(self.id)
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status_notification(self, connector_id: int, error_code: str, status: str,
                                     timestamp: str | None = None, **_):
        if timestamp is not None:
            values.timestamp(timestamp)
        if connector_id == 0:
            await self.platform.chargers.station_status(self.id, status_map.STATION.get(status))
        else:
            await self.platform.chargers.connector_status(self.id, connector_id, 1,
                                                          status_map.connector_status(status, "1.6"))
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str):
        if not await self.platform.chargers.is_accepted(self.id):
            return call_result.Authorize(id_tag_info={"status": "Invalid"})
        place = await self.platform.chargers.evse_of(self.id, 1)
        decision = await self.platform.authorization.authorize(
            id_tag, charger_id=self.id, location_id=place[0].location_id if place else None)
        return call_result.Authorize(id_tag_info=id_tag_info_16(decision))

    @on(Action.start_transaction)
    async def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                                   reservation_id: int | None = None, **_):
        started_at = values.timestamp(timestamp)
        if connector_id <= 0:
            raise PropertyConstraintViolationError(
                details={"cause": f"connectorId {connector_id} of a StartTransaction must be > 0"})
        meter_start_wh = values.register_wh(meter_start, "meterStart")
        if not await self.platform.chargers.is_accepted(self.id):
            return call_result.StartTransaction(transaction_id=0, id_tag_info={"status": "Invalid"})
        key = f"{connector_id}|{timestamp}|{id_tag}|{meter_start}"
        tx, decision = await self.platform.charging.start_transaction(
            self.id, evse_number=connector_id, connector_number=1, id_tag=id_tag, started_at=started_at,
            meter_start_wh=meter_start_wh, start_key=key)
        return call_result.StartTransaction(transaction_id=int(tx.transaction_id),
                                            id_tag_info=id_tag_info_16(decision))

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list, transaction_id: int | None = None, **_):
        await self._meter_values(connector_id, transaction_id, readings_16(meter_value))
        return call_result.MeterValues()

    async def _meter_values(self, connector_id: int, transaction_id: int | None, readings: list) -> None:
        if transaction_id is None:
            tx = await self.platform.charging.active_transaction(self.id, connector_id)
            if tx is None:
                return  # outside a transaction: not part of a session
            transaction_id = tx.transaction_id
        # add_readings looks the transaction up itself (and ignores an unknown one)
        await self.platform.charging.add_readings(self.id, str(transaction_id), readings)

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int,
                                  reason: str | None = None, id_tag: str | None = None,
                                  transaction_data: list | None = None, **_):
        stopped_at = values.timestamp(timestamp)
        flags: dict = {}
        try:
            meter_stop_wh: float | None = values.register_wh(meter_stop, "meterStop")
        except OCPPError as error:
            meter_stop_wh = None
            flags["stop_meter"] = f"meterStop ignored: {(error.details or {}).get('cause')}"[:120]
        data = meter_data_16(transaction_data, lenient=True)
        if data.dropped:
            flags["dropped"] = data.dropped[:20]
        tx = await self.platform.charging.stop_transaction(
            self.id, str(transaction_id), stopped_at=stopped_at, meter_stop_wh=meter_stop_wh,
            readings=data.readings, reason=reason, flags=flags)
        if tx is None or id_tag is None:
            return call_result.StopTransaction()
        decision = self.platform.authorization.remembered(self.id, id_tag)
        return call_result.StopTransaction(id_tag_info=id_tag_info_16(decision) if decision else {"status": "Accepted"})

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_):
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, status: str, **_):
        self.platform.bus.publish("ocpp.diagnostics_status", charger_id=self.id, status=status)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, status: str, **_):
        self.platform.bus.publish("ocpp.firmware_status", charger_id=self.id, status=status)
        return call_result.FirmwareStatusNotification()

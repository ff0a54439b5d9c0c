"""Every OCPP connector status of every version has an OCPI EVSE status."""

from __future__ import annotations

import pytest
from ocpp.v16.enums import ChargePointStatus
from ocpp.v21.enums import ConnectorStatusEnumType as Status21
from ocpp.v201.enums import ConnectorStatusEnumType as Status201

from evroam.model.locations import Status
from evroam.ocpp import status_map
from evroam.services.chargers import evse_status

EXPECTED_16 = {"Available": "AVAILABLE", "Preparing": "CHARGING", "Charging": "CHARGING", "SuspendedEVSE": "CHARGING",
               "SuspendedEV": "CHARGING", "Finishing": "CHARGING", "Reserved": "RESERVED",
               "Unavailable": "INOPERATIVE", "Faulted": "OUTOFORDER"}
EXPECTED_2 = {"Available": "AVAILABLE", "Occupied": "CHARGING", "Reserved": "RESERVED", "Unavailable": "INOPERATIVE",
              "Faulted": "OUTOFORDER"}


@pytest.mark.parametrize("status", list(ChargePointStatus))
def test_every_16_status(status):
    assert status_map.connector_status(status.value, "1.6").value == EXPECTED_16[status.value]


@pytest.mark.parametrize("status", [*Status201, *Status21])
def test_every_2x_status(status):
    assert status_map.connector_status(status.value, "2.0.1").value == EXPECTED_2[status.value]


def test_station_wide_statuses_and_unknown_ones():
    assert status_map.STATION == {"Available": None, "Unavailable": Status.INOPERATIVE, "Faulted": Status.OUTOFORDER}
    assert status_map.OFFLINE is Status.UNKNOWN
    with pytest.raises(ValueError):
        status_map.connector_status("Occupied", "1.6")


def test_an_evse_shows_its_busiest_connector_unless_the_station_is_down():
    assert evse_status([Status.AVAILABLE, Status.CHARGING]) is Status.CHARGING
    assert evse_status([Status.OUTOFORDER, Status.AVAILABLE]) is Status.AVAILABLE
    assert evse_status([Status.AVAILABLE], Status.OUTOFORDER) is Status.OUTOFORDER
    assert evse_status([]) is Status.UNKNOWN

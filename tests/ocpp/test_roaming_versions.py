"""Two evroam instances, a CPO and an eMSP, registered with each other on each OCPI version
(2.1.1, 2.2.1, 2.3.0), roam end to end: an `ocpp`-library charger (OCPP 1.6) at the CPO charges
the eMSP's driver, authorized in real time at the eMSP, the Session and the CDR priced to the cent
reach the eMSP, and the CPO's sender interfaces answer in the partner's version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from charge_points import DRIVER_TAG, charge_point, iso, past, roaming_pair, session_at, wait_cdr
from ocpp.v16 import call

from evroam.ocpi import registry
from harness import auth, httpx, wait_for


def energy(ts, wh: float) -> dict:
    return {"timestamp": iso(ts), "sampledValue": [{"value": f"{wh}", "measurand": "Energy.Active.Import.Register",
                                                    "unit": "Wh"}]}


async def _partner(instance, name):
    async with instance.platform.store.connect() as conn:
        return await instance.platform.store.partners.by_name(conn, name)


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
async def test_charge_session_and_priced_cdr_on_each_version(make_instance, version):
    cpo, emsp = await roaming_pair(make_instance, whitelist="NEVER", version=version)
    at_emsp, at_cpo = await _partner(emsp, "cpo-partner"), await _partner(cpo, "emsp-partner")
    assert at_emsp.version == at_cpo.version == version
    assert at_emsp.endpoint("locations", "SENDER") == f"{cpo.url}/ocpi/{version}/cpo/locations"
    assert at_cpo.endpoint("sessions", "RECEIVER") == f"{emsp.url}/ocpi/{version}/emsp/sessions"
    assert at_emsp.parties("CPO") == [("NL", "CPO")] and at_cpo.parties("EMSP") == [("DE", "MSP")]
    # the token reached the CPO through the version's tokens module, type and contract intact
    async with cpo.platform.store.connect() as conn:
        token = await cpo.platform.store.tokens.get(conn, "DE", "MSP", DRIVER_TAG, "RFID")
    assert token["contract_id"] == "DE-MSP-C00001-1" and token["whitelist"] == "NEVER"

    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        # whitelist NEVER: asked in real time at the eMSP, in the partner's version
        assert (await cp.call(call.Authorize(id_tag=DRIVER_TAG))).id_tag_info["status"] == "Accepted"
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=1000,
                                                    timestamp=iso(t0)))
        assert start.id_tag_info["status"] == "Accepted"
        tx_id = start.transaction_id
        session_id = (await cpo.platform.charging.get_transaction("CP-1", str(tx_id))).session_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                       meter_value=[energy(t0 + timedelta(minutes=10), 8500)]))
        session = await wait_for(lambda: _with(session_at(emsp, session_id), lambda s: s["kwh"] == 7.5))
        assert session["status"] == "ACTIVE" and session["location_id"] == "EVR-GENT-1"
        assert (session["evse_uid"], session["connector_id"]) == ("EVR-GENT-1-E3", "1")
        await cp.call(call.StopTransaction(meter_stop=21000, timestamp=iso(t0 + timedelta(minutes=30)),
                                           transaction_id=tx_id, id_tag=DRIVER_TAG, reason="Local"))
        cdr = await wait_cdr(emsp, session_id)

    # DC-1: 0.50 start + 20 kWh x 0.25 = 5.50 excl. VAT (6.10 incl.; 2.1.1 has no VAT to say it)
    incl = {} if version == "2.1.1" else {"incl_vat": 6.1}
    assert cdr["total_cost"] == {"excl_vat": 5.5, **incl}
    assert cdr["total_energy"] == 20.0 and cdr["total_time"] == 0.5
    assert cdr["start_date_time"] == iso(t0) and cdr["end_date_time"] == iso(t0 + timedelta(minutes=30))
    # the eMSP knows the token behind a 2.1.1 auth_id: its own driver's
    assert cdr["cdr_token"] == {"country_code": "DE", "party_id": "MSP", "uid": DRIVER_TAG, "type": "RFID",
                                "contract_id": "DE-MSP-C00001-1"}
    assert cdr["cdr_location"]["evse_uid"] == "EVR-GENT-1-E3" and cdr["cdr_location"]["connector_id"] == "1"
    completed = await wait_for(lambda: _with(session_at(emsp, session_id), lambda s: s["status"] == "COMPLETED"))
    assert completed["kwh"] == 20.0 and completed["total_cost"] == {"excl_vat": 5.5, **incl}

    # The CPO's sender interfaces answer the eMSP in its version's form.
    token_c = at_emsp.outgoing_token
    encoding = at_emsp.outgoing_encoding
    async with httpx.AsyncClient(headers=auth(token_c, encoding)) as http:
        r = await http.get(f"{cpo.url}/ocpi/{version}/cpo/cdrs")
        [wire] = r.json()["data"]
        r = await http.get(f"{cpo.url}/ocpi/{version}/cpo/tariffs")
        tariffs = {t["id"]: t for t in r.json()["data"]}
        r = await http.get(f"{cpo.url}/ocpi/{version}/cpo/locations/EVR-GENT-1/EVR-GENT-1-E3/1")
        connector = r.json()["data"]
    if version == "2.1.1":
        assert wire["total_cost"] == 5.5 and wire["stop_date_time"] == iso(t0 + timedelta(minutes=30))
        assert wire["auth_id"] == "DE-MSP-C00001-1" and "cdr_token" not in wire and "country_code" not in wire
        assert wire["location"]["id"] == "EVR-GENT-1" and wire["location"]["type"] == "ON_STREET"
        assert [e["uid"] for e in wire["location"]["evses"]] == ["EVR-GENT-1-E3"]
        assert {d["type"] for p in wire["charging_periods"] for d in p["dimensions"]} >= {"FLAT", "ENERGY"}
        # AC-1 is priced by current (max_current), which 2.1.1 cannot say: not sent at all
        assert sorted(tariffs) == ["DC-1"] and "vat" not in str(tariffs["DC-1"])
        assert connector["tariff_id"] == "DC-1" and connector["voltage"] > 0 and "tariff_ids" not in connector
    elif version == "2.2.1":
        assert wire["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
        assert sorted(tariffs) == ["AC-1", "DC-1"] and "tax_included" not in tariffs["DC-1"]
        assert connector["tariff_ids"] == ["DC-1"]
    else:
        assert wire["total_cost"] == {"before_taxes": 5.5, "taxes": [{"name": "VAT", "amount": 0.6}]}
        assert tariffs["DC-1"]["tax_included"] == "NO"
        assert connector["tariff_ids"] == ["DC-1"]

    # the operators see each partner's version, and what it is not sent
    async with httpx.AsyncClient(headers={"Authorization": "Bearer admin-secret"}) as http:
        [view] = (await http.get(f"{cpo.url}/admin/api/partners")).json()
    assert view["version"] == version
    not_sent = {t["id"]: t["reasons"] for t in view["tariffs_not_sent"]}
    if version == "2.1.1":
        assert list(not_sent) == ["AC-1"] and "max_current" in not_sent["AC-1"][0]
    else:
        assert not_sent == {}
    assert registry.get(version).number == version


async def _with(value, predicate):
    found = await value
    return found if found is not None and predicate(found) else None


@pytest.mark.parametrize("version", ["2.1.1", "2.3.0"])
async def test_remote_start_and_its_result_on_each_version(make_instance, version):
    """START_SESSION from the eMSP's driver to the CPO's charger and back: in 2.1.1 the CPO's
    answer has no timeout (the eMSP waits its own command_timeout) and the result it posts is a
    CommandResponse, read as a CommandResult."""
    from charge_points import COMMANDED

    cpo, emsp = await roaming_pair(make_instance, version=version)
    async with emsp.platform.store.connect() as conn:
        token = await emsp.platform.store.tokens.get(conn, "DE", "MSP", DRIVER_TAG, "RFID")

    async def pulled():  # the CPO's locations, pulled right after the registration
        async with emsp.platform.store.connect() as conn:
            return await emsp.platform.store.locations.get(conn, "NL", "CPO", "EVR-GENT-1")

    await wait_for(pulled)
    service = emsp.platform.remote_commands
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        record = await service.start_session(token=token, country_code="NL", party_id="CPO",
                                             location_id="EVR-GENT-1", evse_uid="EVR-GENT-1-E3")
        assert record["state"] == "ACCEPTED" and record["response"]["result"] == "ACCEPTED"
        assert record["response"]["timeout"] == emsp.platform.settings.command_timeout

        async def final():
            got = await service.get(record["id"])
            return got if got["result"] is not None else None

        done = await wait_for(final, 10)
        assert done["result"]["result"] == "ACCEPTED"
        assert ("RemoteStartTransaction", DRIVER_TAG) in [(a, p.get("id_tag")) for a, p in cp.received]
    # the result went to the response_url of the partner's version
    async with cpo.platform.store.connect() as conn:
        rows = await cpo.platform.store.outbox.messages(conn, limit=100)
    [result] = [r for r in rows if r["module"] == "commands"]
    assert f"{emsp.url}/ocpi/{version}/emsp/commands/START_SESSION/{record['id']}" == result["path"]
    assert result["status"] == "delivered"

"""The OCPI 2.3.0 payments module end to end, evroam as the CPO and a Payment Terminal Provider
(tests/payments/ptp_stub.py, a small FastAPI app on a real socket) registered with it on 2.3.0:

- the PTP creates a Terminal at our payments Receiver interface; we assign an EVSE to it and the
  PTP receives the PATCH (and the PUT saying we issue the invoices) through the outbox;
- a driver pays at the terminal: the PTP sends START_SESSION with its token and the payment's
  authorization_reference; an `ocpp`-library charger (1.6 and 2.0.1) is started, charges and
  stops; the Session and the CDR reach the PTP carrying the reference, the CDR the number of our
  invoice (`invoice_reference_id`) and the price of the AD_HOC_PAYMENT tariff to the cent;
- the PTP's FinancialAdviceConfirmation arrives, is linked to the payment and checked against
  the CDR; the invoice shows its EFT data;
- a PTP acts only on its own terminals: another PTP cannot read them, start at their EVSEs or
  confirm their payments, an eMSP cannot use the module at all, and a terminal naming EVSEs we
  did not assign is refused (2001) and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from charge_points import COMMANDED, PASSWORD, charge_point, iso, past
from kit import AD_HOC, EVSE, LOCATION
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from ptp_stub import StubPtp

from evroam.demo import load_demo
from evroam.ocpi.credentials import handshake
from harness import auth, example_dir, httpx, wait_for

REFERENCE = "pp-100100-1948213567"
TERMINAL = "452cf8a1-79aa-4a0e-9aee-dc788586053c"  # the specification's example terminal
OTHER_EVSE = "EVR-GENT-1-E1"


async def ptp_cpo(make_instance):
    """A CPO (NL/EVR) with the demo locations, the ad-hoc tariff ADHOC-DC beside the regular DC-1
    on EVR-GENT-1-E3 (charger CP-1, connector 1), and a PTP (NL/PAY) registered on 2.3.0."""
    cpo = await make_instance("cpo", roles=("CPO",), extra={"session_push_interval": 0})
    assert await load_demo(cpo.platform)
    await cpo.platform.tariffs.import_tariffs([{**AD_HOC, "preauthorize_amount": 40.0}])
    loc = await cpo.platform.locations.get_own(LOCATION)
    for evse in loc["evses"]:
        if evse["uid"] == EVSE:
            for connector in evse["connectors"]:
                connector["tariff_ids"] = ["DC-1", "ADHOC-DC"]
    await cpo.platform.locations.save(loc)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id=LOCATION, evses={1: EVSE})
    ptp = await StubPtp().start()
    partner = await handshake.register_with(cpo.platform, "ptp", ptp.versions_url, ptp.token_a)
    assert partner.version == "2.3.0"
    return cpo, ptp


async def _terminal_with_evse(cpo, ptp, *, invoices: str | None = "CPO") -> None:
    created = await ptp.create_terminal(_example("payment_terminal_create.json"))
    assert created.status_code == 201, created.text
    await cpo.platform.terminals.assign(TERMINAL, evse_uids=[EVSE])
    if invoices:
        await cpo.platform.terminals.assign(TERMINAL, invoices=invoices)


def _example(name: str) -> dict:
    import json

    return json.loads((example_dir("2.3.0") / name).read_text())


# ------------------------------------------------------------------ terminals


async def test_a_ptp_registers_creates_a_terminal_and_we_assign_it(make_instance):
    cpo, ptp = await ptp_cpo(make_instance)
    try:
        async with cpo.platform.store.connect() as conn:
            [partner] = await cpo.platform.store.partners.registered(conn)
        # the PTP's credentials role (PTP, which the 2.3.0 Role table leaves out) and its payments Sender
        assert [r["role"] for r in partner.roles] == ["PTP"] and partner.ptp_parties() == [("NL", "PAY")]
        assert partner.endpoint("payments", "SENDER") == f"{ptp.url}/ocpi/ptp/2.3.0/payments"

        # 1. the PTP creates a newly shipped terminal (the specification's example): 201, then 200 again
        body = _example("payment_terminal_create.json")
        r = await ptp.create_terminal(body)
        assert r.status_code == 201 and r.json()["status_code"] == 1000
        assert r.json()["data"] == {**body, "evse_uids": []}
        again = await ptp.create_terminal(body)
        assert again.status_code == 200
        got = await ptp.get_terminal(TERMINAL.upper())  # a CiString
        assert got.status_code == 200 and got.json()["data"]["terminal_id"] == TERMINAL

        # 2. we assign an EVSE: the PTP receives a PATCH of the assignment at its Sender interface
        view = await cpo.platform.terminals.assign(TERMINAL, evse_uids=[EVSE.lower()])
        assert view["evse_uids"] == [EVSE] and view["status"] == "ACTIVE"
        [(_, path, patch)] = await wait_for(lambda: ptp.sent("PATCH"))
        assert path == f"/payments/terminals/{TERMINAL}"
        assert patch["location_ids"] == [] and patch["evse_uids"] == [EVSE] and "last_updated" in patch
        # ... and a PUT of the whole Terminal when we say we issue the invoices (at our invoice URL)
        await cpo.platform.terminals.assign(TERMINAL, invoices="CPO")
        [(_, path, put)] = await wait_for(lambda: ptp.sent("PUT"))
        assert path == f"/payments/terminals/{TERMINAL}"
        assert put["invoice_creator"] == "CPO" and put["invoice_base_url"] == f"{cpo.url}/terminal-invoices"
        assert put["evse_uids"] == [EVSE] and put["address"] == "Street 1" and put["coordinates"] == body["coordinates"]
        r = await ptp.get_terminal(TERMINAL)
        assert r.json()["data"]["evse_uids"] == [EVSE] and r.json()["data"]["invoice_creator"] == "CPO"

        # 3. the PTP may repeat our assignment, not extend it: 2001, nothing changes
        r = await ptp.create_terminal({**body, "evse_uids": [EVSE], "location_ids": ["EVR-BRU-1"]})
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        assert "location_ids: EVR-BRU-1 not assigned to this terminal" in r.json()["status_message"]
        new = await ptp.create_terminal({"terminal_id": "T-NEW", "evse_uids": [OTHER_EVSE]})
        assert new.status_code == 400 and "evse_uids" in new.json()["status_message"]
        assert (await ptp.get_terminal("T-NEW")).status_code == 404
        # a terminal for another CPO
        r = await ptp.create_terminal({"terminal_id": "T-ELSE", "country_code": "DE", "party_id": "XYZ"})
        assert r.status_code == 400 and "not for us" in r.json()["status_message"]
        assert (await ptp.create_terminal({"terminal_id": "x" * 37})).json()["status_code"] == 2001

        # 4. deactivation: the PTP is asked (POST .../deactivate); the terminal takes no payment
        await cpo.platform.terminals.deactivate(TERMINAL)
        await wait_for(lambda: ptp.sent("POST", f"/payments/terminals/{TERMINAL}/deactivate"))
        r = await ptp.start_session(LOCATION, EVSE, REFERENCE)
        assert r.json()["data"]["result"] == "REJECTED"
        assert "not assigned to an active terminal" in r.json()["data"]["message"][0]["text"]

        # 5. activation of a terminal built into a charger: we give the PTP its serial number and
        # the EVSE; the PTP creates the Terminal, which takes that assignment
        await cpo.platform.terminals.activate("ptp", reference="SN-0042", evse_uids=[OTHER_EVSE],
                                              details={"address": "Korenmarkt 1", "city": "Gent", "country": "BEL"})
        [(_, _, activation)] = await wait_for(lambda: ptp.sent("POST", "/payments/terminals/activate"))
        assert activation["reference"] == "SN-0042" and activation["evse_uids"] == [OTHER_EVSE]
        assert "terminal_id" not in activation and activation["city"] == "Gent"
        r = await ptp.create_terminal({"terminal_id": "T-SN-0042", "reference": "SN-0042",
                                       "last_updated": "2025-01-02T00:00:00Z"})
        assert r.status_code == 201 and r.json()["data"]["evse_uids"] == [OTHER_EVSE]
        listed = {t["terminal_id"]: t for t in await cpo.platform.terminals.listing()}
        assert listed["T-SN-0042"]["status"] == "ACTIVE" and listed[TERMINAL]["status"] == "DEACTIVATED"
        assert len(listed) == 2  # the activation became the terminal
        async with cpo.platform.store.connect() as conn:
            pushes = [m for m in await cpo.platform.store.outbox.messages(conn, partner_pk=partner.pk)
                      if m["module"] == "payments"]
        assert len(pushes) == 4 and {m["status"] for m in pushes} == {"delivered"}
    finally:
        await ptp.stop()


async def test_party_scoping_a_ptp_acts_only_on_its_own_terminals(make_instance):
    cpo, ptp = await ptp_cpo(make_instance)
    try:
        await _terminal_with_evse(cpo, ptp)
        # another PTP (role OTHER with a payments Sender interface: how the Role table lets it say so)
        await cpo.add_partner("ptp2", "ptp2-token", [("OTHER", "DE", "PT2")], version="2.3.0", endpoints=[
            {"identifier": "payments", "role": "SENDER", "url": "http://127.0.0.1:9/ptp2/payments"}])
        await cpo.add_partner("emsp", "emsp-token", [("EMSP", "DE", "MSP")], version="2.3.0")
        base = f"{cpo.url}/ocpi/2.3.0/cpo/payments"
        async with httpx.AsyncClient() as http:
            r = await http.get(f"{base}/terminals/{TERMINAL}", headers=auth("ptp2-token"))
            assert r.status_code == 404 and r.json()["status_code"] == 2000
            r = await http.post(f"{base}/terminals", headers=auth("emsp-token"), json={"terminal_id": "E-1"})
            assert r.status_code == 403 and "Payment Terminal Providers" in r.json()["status_message"]
            # its own terminal of the same id is another terminal
            r = await http.post(f"{base}/terminals", headers=auth("ptp2-token"), json={"terminal_id": TERMINAL})
            assert r.status_code == 201 and r.json()["data"]["evse_uids"] == []
            # it cannot start at the first PTP's EVSE, whatever reference it gives
            token = {**ptp.token("x-1"), "country_code": "DE", "party_id": "PT2"}
            r = await http.post(f"{cpo.url}/ocpi/2.3.0/cpo/commands/START_SESSION", headers=auth("ptp2-token"), json={
                "response_url": "http://127.0.0.1:9/r", "token": token, "location_id": LOCATION, "evse_uid": EVSE,
                "authorization_reference": REFERENCE})
            assert r.json()["data"]["result"] == "REJECTED"
            # nor with the first PTP's token
            r = await http.post(f"{cpo.url}/ocpi/2.3.0/cpo/commands/START_SESSION", headers=auth("ptp2-token"), json={
                "response_url": "http://127.0.0.1:9/r", "token": ptp.token("x-2"), "location_id": LOCATION,
                "evse_uid": EVSE, "authorization_reference": "x-2"})
            assert r.json()["data"]["result"] == "REJECTED" and "PT2" in r.json()["data"]["message"][0]["text"]
            # the module is not there in 2.2.1
            r = await http.get(f"{cpo.url}/ocpi/2.2.1/cpo/payments/terminals/{TERMINAL}", headers=auth("ptp2-token"))
            assert r.status_code == 404
        details = (await ptp.call("GET", f"{cpo.url}/ocpi/2.2.1")).json()["data"]["endpoints"]
        assert "payments" not in {e["identifier"] for e in details}
    finally:
        await ptp.stop()


# ------------------------------------------------------------------ a driver pays at the terminal


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_driver_pays_at_the_terminal_end_to_end(make_instance, version):
    cpo, ptp = await ptp_cpo(make_instance)
    try:
        await _terminal_with_evse(cpo, ptp)
        # the terminal shows the EVSE's ad-hoc price: the PTP reads the connector's tariffs and the
        # AD_HOC_PAYMENT one, with the amount to pre-authorise
        evse = (await ptp.call("GET", f"{cpo.url}/ocpi/2.3.0/cpo/locations/{LOCATION}/{EVSE}")).json()["data"]
        assert evse["connectors"][0]["tariff_ids"] == ["DC-1", "ADHOC-DC"]
        tariffs = (await ptp.call("GET", f"{cpo.url}/ocpi/2.3.0/cpo/tariffs")).json()["data"]
        [adhoc] = [t for t in tariffs if t.get("type") == "AD_HOC_PAYMENT"]
        assert adhoc["id"] == "ADHOC-DC" and adhoc["preauthorize_amount"] == 40.0
        async with charge_point(cpo, "CP-1", version=version, cls=COMMANDED[version]) as cp:
            await _boot(cp, version)
            # no reference, or an EVSE the terminal does not take payments for: REJECTED, nothing asked
            r = await ptp.start_session(LOCATION, EVSE, None)
            assert r.json()["data"]["result"] == "REJECTED" and "authorization_reference is required" in \
                r.json()["data"]["message"][0]["text"]
            r = await ptp.start_session(LOCATION, OTHER_EVSE, "pp-other")
            assert r.json()["data"]["result"] == "REJECTED"

            # 1. the driver paid at the terminal: START_SESSION with the payment's reference
            r = await ptp.start_session(LOCATION, EVSE, REFERENCE)
            assert r.status_code == 200 and r.json()["data"]["result"] == "ACCEPTED", r.text
            action = "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction"
            _, asked = await wait_for(lambda: next(((a, p) for a, p in cp.received if a == action), None))
            [result] = await wait_for(lambda: ptp.sent("POST", f"/commands/START_SESSION/{REFERENCE}"))
            assert result[2]["result"] == "ACCEPTED"
            # the same reference again: one payment per reference
            r = await ptp.start_session(LOCATION, EVSE, REFERENCE)
            assert r.json()["data"]["result"] == "REJECTED" and "used before" in r.json()["data"]["message"][0]["text"]

            # 2. the charger starts the transaction it was asked for, charges 23.456 kWh, stops
            t0 = past(30)
            tx = await _charge(cp, version, asked, t0)

        # 3. the Session (PUT) and the CDR (POST) reached the PTP, in 2.3.0, with the reference
        [cdr_post] = await wait_for(lambda: ptp.sent("POST", "/cdrs"))
        cdr = cdr_post[2]
        puts = ptp.sent("PUT", "")
        sessions = [b for m, p, b in puts if p.startswith("/sessions/NL/EVR/")]
        assert sessions and sessions[0]["authorization_reference"] == REFERENCE
        assert sessions[0]["cdr_token"]["party_id"] == "PAY" and sessions[0]["auth_method"] == "COMMAND"
        assert cdr["authorization_reference"] == REFERENCE and cdr["invoice_reference_id"] == "PT-00000001"
        assert cdr["cdr_token"] == {"country_code": "NL", "party_id": "PAY", "uid": ptp.token(REFERENCE)["uid"],
                                    "type": "AD_HOC_USER", "contract_id": ptp.token(REFERENCE)["uid"]}
        # priced with the AD_HOC_PAYMENT tariff (not DC-1): 23.456 kWh x 0.50 + 1.00 = 12.728 -> 12.73
        # excl. VAT; 21 % VAT 2.67; 15.40 incl. VAT; said as a 2.3.0 Price
        assert [t["id"] for t in cdr["tariffs"]] == ["ADHOC-DC"] and cdr["tariffs"][0]["type"] == "AD_HOC_PAYMENT"
        assert cdr["total_cost"] == {"before_taxes": 12.73, "taxes": [{"name": "VAT", "amount": 2.67}]}
        assert cdr["total_energy"] == 23.456
        ours = await cpo.platform.charging.get_cdr(cdr["id"])
        assert ours["total_cost"] == {"excl_vat": 12.73, "incl_vat": 15.40} and ours["invoice_reference_id"] == "PT-00000001"
        assert tx is not None
        # the PTP may pull them too (the CDRs of its own party's tokens only)
        pulled = await ptp.call("GET", f"{cpo.url}/ocpi/2.3.0/cpo/cdrs")
        assert [c["id"] for c in pulled.json()["data"]] == [cdr["id"]]
        assert pulled.json()["data"][0]["invoice_reference_id"] == "PT-00000001"

        # 4. the PTP captured 15.40 at its PSP: its FAC is taken, linked, checked
        fac = ptp.fac(REFERENCE, 12.73, 2.67, fac_id="fac-1")
        r = await ptp.post_fac(fac)
        assert r.status_code == 201 and r.json()["data"]["total_costs"] == fac["total_costs"]
        assert (await ptp.post_fac(fac)).status_code == 200  # the same again: replaced, not doubled
        [payment] = await cpo.platform.terminal_payments.listing()
        assert payment["status"] == "CAPTURED" and payment["session_id"] == cdr["session_id"]
        [confirmed] = payment["financial_advice"]
        assert confirmed["session_id"] == cdr["session_id"] and confirmed["checks"] == {}
        r = await ptp.call("GET", f"{cpo.url}/ocpi/2.3.0/cpo/payments/financial-advice-confirmations/FAC-1")
        assert r.status_code == 200 and r.json()["data"]["eft_data"] == fac["eft_data"]

        # 5. our invoice: the CDR with VAT, and the EFT data of the capture
        invoice = await cpo.platform.terminal_payments.invoice(REFERENCE)
        assert invoice["number"] == "PT-00000001" and invoice["payment_id"] == REFERENCE
        assert invoice["total"] == {"excl_vat": "12.73", "vat": "2.67", "incl_vat": "15.40"}
        assert invoice["paid"] == "15.40" and invoice["eft_data"] == fac["eft_data"]
        async with httpx.AsyncClient() as http:
            page = await http.get(f"{cpo.url}/terminal-invoices/{REFERENCE}")
        assert page.status_code == 200 and "PT-00000001" in page.text and "15.40" in page.text \
            and "AID: 1234" in page.text

        # 6. a FAC whose amount is not the CDR's, and one for a reference the PTP never used: kept, flagged
        r = await ptp.post_fac(ptp.fac(REFERENCE, 12.72, 2.67, fac_id="fac-2"))
        assert r.status_code == 201
        r = await ptp.post_fac(ptp.fac("pp-unknown", 1.0, 0.21, fac_id="fac-3"))
        assert r.status_code == 201
        flagged = {f["id"]: f for f in await cpo.platform.terminal_payments.confirmations()}
        assert flagged["fac-2"]["checks"] == {"amount": "captured 15.39 EUR, the CDR's total is 15.40 EUR"}
        assert flagged["fac-3"]["session_id"] is None and "pp-unknown" in flagged["fac-3"]["checks"]["payment"]
        # a FAC that is not one (no EFT data for a successful capture): 2001, nothing stored
        bad = {**ptp.fac(REFERENCE, 12.73, 2.67, fac_id="fac-4"), "eft_data": []}
        r = await ptp.post_fac(bad)
        assert r.status_code == 400 and r.json()["status_code"] == 2001 and "eft_data" in r.json()["status_message"]
        assert "fac-4" not in {f["id"] for f in await cpo.platform.terminal_payments.confirmations()}
    finally:
        await ptp.stop()


async def _boot(cp, version: str) -> None:
    if version == "1.6":
        await cp.call(call16.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    else:
        await cp.call(call201.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                               reason="PowerUp"))
        await cp.call(call201.StatusNotification(timestamp=iso(past(0)), connector_status="Available", evse_id=1,
                                                 connector_id=1))


async def _charge(cp, version: str, asked: dict, t0) -> str:
    """The transaction the charger was asked for (1.6: the idTag it was given; 2.0.1: the
    remoteStartId), 100 -> 123.456 kWh over 25 minutes."""
    end = t0 + timedelta(minutes=25)
    if version == "1.6":
        start = await cp.call(call16.StartTransaction(connector_id=1, id_tag=asked["id_tag"], meter_start=100_000,
                                                      timestamp=iso(t0)))
        assert start.id_tag_info["status"] == "Accepted"
        await cp.call(call16.StopTransaction(meter_stop=123_456, timestamp=iso(end),
                                             transaction_id=start.transaction_id))
        return str(start.transaction_id)

    def meter(wh: int) -> list[dict]:
        return [{"timestamp": iso(t0), "sampled_value": [
            {"value": wh, "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"}}]}]

    started = await cp.call(call201.TransactionEvent(
        event_type="Started", timestamp=iso(t0), trigger_reason="RemoteStart", seq_no=0,
        transaction_info={"transaction_id": "TX-PTP-1", "remote_start_id": asked["remote_start_id"],
                          "charging_state": "Charging"},
        evse={"id": 1, "connector_id": 1}, id_token=asked["id_token"], meter_value=meter(100_000)))
    assert started.id_token_info["status"] == "Accepted"
    ended = [{"timestamp": iso(end), "sampled_value": [
        {"value": 123_456, "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"},
         "context": "Transaction.End"}]}]
    await cp.call(call201.TransactionEvent(
        event_type="Ended", timestamp=iso(end), trigger_reason="StopAuthorized", seq_no=1,
        transaction_info={"transaction_id": "TX-PTP-1", "stopped_reason": "Local"}, meter_value=ended))
    return "TX-PTP-1"


async def test_a_payment_whose_charger_never_started_ends_not_started(make_instance):
    """A payment at a terminal whose charger accepted the start but never began a transaction
    (the event lost with a node, or the charger silent) is not left STARTING: the sweep ends it
    NOT_STARTED (nothing to bill), and links one whose transaction did start."""
    from sqlalchemy import text

    from evroam.model.common import utcnow

    cpo = await make_instance("cpo-sweep")
    platform, store = cpo.platform, cpo.platform.store
    async with store.begin() as conn:
        lost = await store.terminal_payments.add(conn, partner_pk=1, terminal_pk=1, authorization_reference="REF-LOST",
                                                 location_id="L", evse_uid="E", invoice_reference_id=None,
                                                 status="STARTING")
        await store.terminal_payments.add(conn, partner_pk=1, terminal_pk=1, authorization_reference="REF-NEW",
                                                  location_id="L", evse_uid="E", invoice_reference_id=None,
                                                  status="STARTING")
        await conn.execute(text("UPDATE terminal_payments SET updated_at = :t WHERE pk = :pk"),
                           {"t": (utcnow().replace(year=2020)).replace(tzinfo=None), "pk": lost.pk})
    assert await platform.terminal_payments.sweep() == 1
    async with store.connect() as conn:
        statuses = dict((await conn.execute(text("SELECT authorization_reference, status FROM terminal_payments")))
                        .all())
    assert statuses == {"REF-LOST": "NOT_STARTED", "REF-NEW": "STARTING"}  # a fresh one waits for its charger

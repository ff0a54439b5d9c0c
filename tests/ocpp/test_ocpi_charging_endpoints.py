"""The OCPI endpoints of charging: sessions and cdrs senders (paged, only the caller's drivers,
date_from required for sessions) and the tokens receiver (only the owning eMSP; PATCH needs
last_updated)."""

from __future__ import annotations

from datetime import timedelta

from charge_points import DRIVER_TAG, charge_point, iso, past, roaming_pair, wait_cdr
from ocpp.v16 import call

from harness import auth, httpx


async def test_senders_and_tokens_receiver(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(30)
    async with charge_point(cpo, "CP-1") as cp:
        tx_id = (await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                     timestamp=iso(t0)))).transaction_id
        await cp.call(call.StopTransaction(meter_stop=3000, timestamp=iso(t0 + timedelta(minutes=9)),
                                           transaction_id=tx_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    await wait_cdr(emsp, tx.session_id)
    async with cpo.platform.store.connect() as conn:
        at_cpo = await cpo.platform.store.partners.by_name(conn, "emsp-partner")
    async with emsp.platform.store.connect() as conn:
        token = (await emsp.platform.store.partners.by_name(conn, "cpo-partner")).outgoing_token
    other = await cpo.add_partner("other-emsp", "other-token", [("EMSP", "FR", "OTH")])
    assert at_cpo.registered and other
    base = f"{cpo.url}/ocpi/2.2.1/cpo"
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{base}/sessions", headers=auth(token))
        assert r.status_code == 400 and r.json()["status_code"] == 2001  # date_from is required
        r = await http.get(f"{base}/sessions", params={"date_from": iso(past(60)), "limit": 1}, headers=auth(token))
        assert r.status_code == 200 and r.headers["X-Total-Count"] == "1"
        assert [s["id"] for s in r.json()["data"]] == [tx.session_id]
        r = await http.get(f"{base}/cdrs", headers=auth(token))
        cdrs = r.json()["data"]
        assert [c["id"] for c in cdrs] == [tx.session_id] and cdrs[0]["total_cost"] == {"excl_vat": 1.25,
                                                                                       "incl_vat": 1.43}
        # another eMSP sees none of them
        r = await http.get(f"{base}/cdrs", headers=auth("other-token"))
        assert r.json()["data"] == [] and r.headers["X-Total-Count"] == "0"

        # tokens receiver
        url = f"{base}/tokens/DE/MSP/{DRIVER_TAG}"
        r = await http.get(url, params={"type": "RFID"}, headers=auth(token))
        assert r.json()["data"]["contract_id"] == "DE-MSP-C00001-1"
        r = await http.patch(url, json={"valid": False}, headers=auth(token))
        assert r.status_code == 400 and r.json()["status_code"] == 2001  # last_updated missing
        r = await http.patch(url, json={"valid": False, "last_updated": iso(past(0))}, headers=auth(token))
        assert r.status_code == 200
        assert (await cpo.platform.authorization.authorize(DRIVER_TAG)).status == "Blocked"
        r = await http.put(f"{base}/tokens/DE/MSP/NEW-1?type=APP_USER", headers=auth(token), json={
            "country_code": "DE", "party_id": "MSP", "uid": "NEW-1", "type": "APP_USER", "contract_id": "C-1",
            "issuer": "MSP", "valid": True, "whitelist": "ALLOWED", "last_updated": iso(past(0))})
        assert r.status_code == 201
        r = await http.get(f"{base}/tokens/DE/MSP/NEW-1", headers=auth(token))  # type RFID by default
        assert r.status_code == 404
        r = await http.get(url, headers=auth("other-token"))
        assert r.status_code == 403  # not the owner

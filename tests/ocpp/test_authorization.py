"""Authorization of tokens at our chargers: our own drivers' tokens, tokens an eMSP pushed to
us with each whitelist type, real-time authorization at the eMSP (a second evroam instance's
tokens sender), and an unreachable eMSP."""

from __future__ import annotations

from datetime import timedelta

from charge_points import DRIVER_TAG, charge_point, iso, past, roaming_pair, wait_cdr
from ocpp.v16 import call

from harness import wait_for


async def _push(cpo, emsp, uid: str, whitelist: str, valid: bool = True) -> None:
    await emsp.platform.tokens.add_own({"uid": uid, "whitelist": whitelist, "valid": valid})

    async def arrived():
        async with cpo.platform.store.connect() as conn:
            token = await cpo.platform.store.tokens.get(conn, "DE", "MSP", uid, "RFID")
        return token is not None and token["valid"] == valid

    await wait_for(arrived)


async def test_whitelist_types_decide_who_decides(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    auth = cpo.platform.authorization
    asked = []
    emsp.platform.bus.subscribe("token.authorized", lambda e: asked.append(e.data["uid"]))
    for uid, whitelist, valid in [("T-ALWAYS", "ALWAYS", True), ("T-ALLOWED", "ALLOWED", True),
                                  ("T-ALLOWED-BLOCKED", "ALLOWED", False), ("T-OFFLINE", "ALLOWED_OFFLINE", True),
                                  ("T-NEVER", "NEVER", True), ("T-NEVER-BLOCKED", "NEVER", False),
                                  ("T-ALWAYS-BLOCKED", "ALWAYS", False)]:
        await _push(cpo, emsp, uid, whitelist, valid)

    local = await auth.authorize("T-ALWAYS")
    assert (local.status, local.auth_method.value, local.decided_by) == ("Accepted", "WHITELIST", "local")
    assert (await auth.authorize("T-ALWAYS-BLOCKED")).status == "Blocked"
    assert (await auth.authorize("T-ALLOWED")).decided_by == "local"
    assert asked == []
    blocked = await auth.authorize("T-ALLOWED-BLOCKED")  # not valid here: the eMSP is asked
    assert (blocked.status, blocked.decided_by) == ("Blocked", "realtime")
    never = await auth.authorize("T-NEVER", location_id="EVR-GENT-1", evse_uids=["EVR-GENT-1-E3"])
    assert (never.status, never.auth_method.value) == ("Accepted", "AUTH_REQUEST") and never.authorization_reference
    assert (await auth.authorize("T-NEVER-BLOCKED")).status == "Blocked"
    assert (await auth.authorize("T-OFFLINE")).decided_by == "realtime"
    assert asked == ["T-ALLOWED-BLOCKED", "T-NEVER", "T-NEVER-BLOCKED", "T-OFFLINE"]
    assert (await auth.authorize("NOBODY")).status == "Invalid"

    await emsp.stop()  # the eMSP is unreachable now
    fallback = await auth.authorize("T-OFFLINE")
    assert (fallback.status, fallback.decided_by) == ("Accepted", "offline-fallback")
    assert (await auth.authorize("T-NEVER")).status == "Invalid"


async def test_our_own_drivers_tokens_are_decided_locally(make_instance):
    cpo, _emsp = await roaming_pair(make_instance)
    await cpo.platform.tokens.add_own({"uid": "OWN-1"})
    await cpo.platform.tokens.add_own({"uid": "OWN-2", "valid": False})
    assert (await cpo.platform.authorization.authorize("own-1")).status == "Accepted"  # uids are CiStrings
    assert (await cpo.platform.authorization.authorize("OWN-2")).status == "Blocked"


async def test_realtime_authorization_reference_reaches_session_and_cdr(make_instance):
    cpo, emsp = await roaming_pair(make_instance, whitelist="NEVER")
    t0 = past(30)
    async with charge_point(cpo, "CP-1") as cp:
        assert (await cp.call(call.Authorize(id_tag=DRIVER_TAG))).id_tag_info["status"] == "Accepted"
        tx_id = (await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                     timestamp=iso(t0)))).transaction_id
        await cp.call(call.StopTransaction(meter_stop=4000, timestamp=iso(t0 + timedelta(minutes=10)),
                                           transaction_id=tx_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    cdr = await wait_cdr(emsp, tx.session_id)
    assert cdr["auth_method"] == "AUTH_REQUEST"
    assert cdr["authorization_reference"] == tx.state["authorization_reference"] is not None


async def test_a_start_requested_by_a_command_carries_its_authorization_reference(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    async with cpo.platform.store.connect() as conn:
        token = await cpo.platform.store.tokens.get(conn, "DE", "MSP", DRIVER_TAG, "RFID")
    await cpo.platform.charging.expect_remote_start("CP-1", id_tag=DRIVER_TAG, token=token,
                                                    authorization_reference="CMD-REF-42", remote_start_id=7)
    t0 = past(20)
    async with charge_point(cpo, "CP-1") as cp:
        tx_id = (await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                     timestamp=iso(t0)))).transaction_id
        await cp.call(call.StopTransaction(meter_stop=2000, timestamp=iso(t0 + timedelta(minutes=5)),
                                           transaction_id=tx_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    cdr = await wait_cdr(emsp, tx.session_id)
    assert (cdr["auth_method"], cdr["authorization_reference"]) == ("COMMAND", "CMD-REF-42")

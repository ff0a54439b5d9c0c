"""Our drivers' tokens reach our CPO partners through the outbox (real evroam CPO instances with
their tokens receivers): new tokens, a CPO that registers after the tokens exist (all pushed at
once), drivers limited to some CPOs, blocking, and a CPO the driver may no longer use."""

from __future__ import annotations

from evroam.ocpi.credentials import handshake
from harness import wait_for


async def _register(emsp, cpo, name: str) -> None:
    _, token_a = await handshake.invite(cpo.platform, f"emsp-at-{name}")
    await handshake.register_with(emsp.platform, name, cpo.versions_url, token_a)


def token_at(cpo, uid: str, token_type: str = "RFID"):
    async def look():
        async with cpo.platform.store.connect() as conn:
            return await cpo.platform.store.tokens.get(conn, "DE", "MSP", uid, token_type)
    return look


async def test_tokens_follow_drivers_to_the_cpos_that_may_know_them(make_instance):
    emsp = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    nl = await make_instance("nl", country_code="NL", party_id="CPO", roles=("CPO",))
    be = await make_instance("be", country_code="BE", party_id="XYZ", roles=("CPO",))
    await _register(emsp, nl, "nl-cpo")
    drivers = emsp.platform.drivers
    alice = await drivers.add("Alice", token_uid="A-1")
    await drivers.add("Carol", token_uid="C-1", allowed_cpos=["BE/XYZ"])
    app_uid = next(t["uid"] for t in alice.tokens if t["type"] == "APP_USER")

    assert (await wait_for(token_at(nl, "A-1")))["contract_id"] == alice.driver.contract.display
    assert (await wait_for(token_at(nl, app_uid, "APP_USER")))["valid"] is True

    # BE/XYZ registers after the tokens exist: it gets every token it may know at once
    await _register(emsp, be, "be-cpo")
    assert (await wait_for(token_at(be, "C-1")))["valid"] is True
    await wait_for(token_at(be, "A-1"))
    # Carol may not charge at NL/CPO: it never hears of her card
    async with emsp.platform.store.connect() as conn:
        nl_pk = (await emsp.platform.store.partners.by_name(conn, "nl-cpo")).pk
        keys = {m["object_key"] for m in await emsp.platform.store.outbox.messages(conn, nl_pk, limit=1000)}
    assert "tokens:RFID:A-1" in keys and "tokens:RFID:C-1" not in keys
    assert await token_at(nl, "C-1")() is None

    # Carol may charge everywhere now: NL/CPO gets her card
    await drivers.update("carol", allowed_cpos=[])
    assert (await wait_for(token_at(nl, "C-1")))["valid"] is True

    # ... and then only at NL/CPO: BE/XYZ gets it once more, invalid
    await drivers.update("carol", allowed_cpos=["NL/CPO"])

    async def revoked_at_be():
        t = await token_at(be, "C-1")()
        return t is not None and t["valid"] is False

    await wait_for(revoked_at_be)
    assert (await token_at(nl, "C-1")())["valid"] is True

    # blocking Alice invalidates her tokens at both CPOs
    await drivers.set_blocked("alice", True)
    for cpo in (nl, be):
        for uid, kind in (("A-1", "RFID"), (app_uid, "APP_USER")):
            async def blocked(cpo=cpo, uid=uid, kind=kind):
                t = await token_at(cpo, uid, kind)()
                return t is not None and t["valid"] is False
            await wait_for(blocked)
    # and the CPO now refuses her card at its chargers, deciding locally (whitelist ALLOWED, not valid:
    # it asks us in real time, and we answer BLOCKED)
    decision = await nl.platform.authorization.authorize("A-1")
    assert decision.status == "Blocked"

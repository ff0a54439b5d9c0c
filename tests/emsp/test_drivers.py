"""Drivers: contract ids in eMA-ID form (format and check digit), adding drivers with tokens and
API keys, bad input refused with a clear message and nothing stored, blocking, and our tokens
sender's list scoped per CPO partner."""

from __future__ import annotations

import pytest
from drivers_kit import CPO_TOKEN, OCPI, emsp_with_cpo

from evroam.model.drivers import check_digit, parse_emaid
from evroam.services.drivers import hash_key
from evroam.services.errors import Invalid, NotFound
from harness import auth, httpx

# Check digits of the eMI3 "Check digit calculation for Contract-IDs" examples.
CHECK_DIGITS = {
    "NN123ABCDEFGHI": "T", "FRXYZ123456789": "2", "ITA1B2C3E4F5G6": "4", "ESZU8WOX834H1D": "R",
    "PT73902837ABCZ": "Z", "DE83DUIEN83QGZ": "D", "DE83DUIEN83ZGQ": "M", "DE8AA001234567": "0",
    "NLTNM000122045": "U",
}


@pytest.mark.parametrize(("code", "digit"), sorted(CHECK_DIGITS.items()))
def test_check_digit(code, digit):
    assert check_digit(code) == digit
    assert check_digit(code.lower()) == digit


def test_emaid_forms():
    full = parse_emaid("NL-TNM-000122045-U")
    assert (full.country_code, full.provider_id, full.instance, full.check) == ("NL", "TNM", "000122045", "U")
    assert parse_emaid("NLTNM000122045U") == full == parse_emaid("nl-tnm-000122045") == parse_emaid("NLTNM000122045")
    assert full.display == "NL-TNM-000122045-U" and full.compact == "NLTNM000122045U"
    # a changed character or swapped neighbours are caught by the check digit
    for typo in ("NL-TNM-000122046-U", "NL-TNM-000120245-U"):
        with pytest.raises(ValueError, match="wrong check digit"):
            parse_emaid(typo)
    with pytest.raises(ValueError, match="it is 'A'"):
        parse_emaid("NL-EVR-C12345678-X")
    for bad in ("NL-TNM-00012204-U",  # 8-character instance
                "NL-TN-000122045",  # 2-character provider
                "N1-TNM-000122045",  # country code with a digit
                "NL-TNM000122045-U",  # separators must be used throughout or not at all
                "NL*TNM*000122045*U", "", "NL-TNM-000122045-UU"):
        with pytest.raises(ValueError, match="eMA-ID|empty"):
            parse_emaid(bad)


async def test_add_driver_makes_tokens_contract_and_key(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    drivers = emsp.platform.drivers
    made = await drivers.add("Alice", email="alice@example.com", token_uid="04A1B2C3", contract_id="DE-MSP-C12345678")
    d = made.driver
    emaid = parse_emaid("DE-MSP-C12345678")
    assert d.contract_id == emaid.compact and made.to_dict()["contract_id"] == emaid.display
    kinds = {t["type"]: t for t in made.tokens}
    assert set(kinds) == {"RFID", "APP_USER"}
    rfid = kinds["RFID"]
    assert (rfid["uid"], rfid["contract_id"], rfid["visual_number"], rfid["valid"], rfid["whitelist"]) == \
        ("04A1B2C3", emaid.display, emaid.display, True, "ALLOWED")
    assert (rfid["country_code"], rfid["party_id"]) == ("DE", "MSP")
    assert made.api_key.startswith("evd_") and await drivers.by_api_key(made.api_key) == d
    # only a hash of the key is stored
    async with emsp.platform.store.connect() as conn:
        stored = await emsp.platform.store.drivers.get(conn, d.pk)
        from sqlalchemy import text

        raw = (await conn.execute(text("SELECT api_key_hash FROM drivers"))).scalar_one()
    assert raw == hash_key(made.api_key) and made.api_key not in raw and stored.has_api_key
    # the tokens are ours, in the tokens table, as OCPI Tokens
    for t in made.tokens:
        assert await emsp.platform.tokens.own(t["uid"], t["type"]) == t
    # a generated contract id is a valid eMA-ID of our party
    second = await drivers.add("Bob")
    g = parse_emaid(second.driver.contract_id)
    assert (g.country_code, g.provider_id) == ("DE", "MSP") and second.driver.contract_id != d.contract_id
    assert [t["type"] for t in second.tokens] == ["APP_USER"]
    # a new key replaces the old one
    key = await drivers.new_key("bob")
    assert await drivers.by_api_key(second.api_key) is None and (await drivers.by_api_key(key)).name == "Bob"


async def test_bad_input_is_refused_and_nothing_stored(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    drivers = emsp.platform.drivers
    await drivers.add("Alice", token_uid="CARD-1", contract_id="DE-MSP-C12345678")
    cases = [
        (dict(name="X", contract_id="DE-MSP-C12345678-Q"), "wrong check digit"),
        (dict(name="X", contract_id="NL-EVR-C12345678"), r"not by us \(DE-MSP\)"),
        (dict(name="X", contract_id="DE-MSP-C12345678"), "belongs to driver 'Alice'"),
        (dict(name="X", contract_id="12345"), "not an eMA-ID"),
        (dict(name="alice"), "exists already"),
        (dict(name="X", token_uid="card-1"), "exists already"),  # uids are CiStrings
        (dict(name="X", token_uid="C2", token_type="AD_HOC_USER"), "RFID, APP_USER"),
        (dict(name="X", token_uid="has space"), "printable"),
        (dict(name="X", token_type="RFID"), "without a token uid"),
        (dict(name="X", whitelist="SOMETIMES", token_uid="C3"), "whitelist"),
        (dict(name="X", credit_limit="-5"), "credit_limit"),
        (dict(name="X", credit_limit="lots"), "credit_limit"),
        (dict(name="X", contract_end="next year"), "contract_end"),
        (dict(name="X", allowed_cpos=["NLCPO"]), "allowed_cpos"),
        (dict(name="X", email="nobody"), "email"),
        (dict(name=""), "name"),
    ]
    for kwargs, message in cases:
        name = kwargs.pop("name")
        with pytest.raises(Invalid, match=message):
            await drivers.add(name, **kwargs)
    assert [d.name for d in await drivers.list()] == ["Alice"]
    async with emsp.platform.store.connect() as conn:
        tokens, total = await emsp.platform.store.drivers.tokens_page(conn, ("DE", "MSP"), None)
    assert total == 2
    with pytest.raises(NotFound):
        await drivers.get("nobody")
    with pytest.raises(NotFound):
        await drivers.set_token_enabled("alice", "NOT-HERS", "RFID", False)
    with pytest.raises(Invalid, match="belongs to driver"):
        await emsp.platform.tokens.add_own({"uid": "CARD-1"})  # a driver's token is changed through the driver


async def test_blocking_a_driver_invalidates_every_token(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    drivers = emsp.platform.drivers
    await drivers.add("Alice", token_uid="CARD-1")
    await drivers.add_token("alice", "CARD-2")
    await drivers.set_token_enabled("alice", "CARD-2", "RFID", False)
    valid = {t["uid"]: t["valid"] for t in await drivers.tokens_of(await drivers.get("alice"))}
    assert valid["CARD-1"] and not valid["CARD-2"]
    await drivers.set_blocked("alice", True)
    assert not any(t["valid"] for t in await drivers.tokens_of(await drivers.get("alice")))
    await drivers.set_blocked("alice", False)
    valid = {t["uid"]: t["valid"] for t in await drivers.tokens_of(await drivers.get("alice"))}
    assert valid["CARD-1"] and not valid["CARD-2"]  # the token blocked on its own stays blocked


async def test_tokens_sender_lists_each_cpo_only_what_it_may_know(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    await emsp.add_partner("be", "be-token", [("CPO", "BE", "XYZ")])
    drivers = emsp.platform.drivers
    await drivers.add("Alice", token_uid="A-1")  # everywhere
    await drivers.add("Carol", token_uid="C-1", allowed_cpos=["BE/XYZ"])
    await emsp.platform.tokens.add_own({"uid": "LOOSE-1"})  # a token of no driver

    async def listed(token: str, params=None) -> tuple[list[str], int]:
        async with httpx.AsyncClient(headers=auth(token)) as http:
            r = await http.get(f"{emsp.url}{OCPI}/tokens", params=params)
        assert r.status_code == 200 and r.json()["status_code"] == 1000
        return [t["uid"] for t in r.json()["data"] if t["type"] == "RFID"], int(r.headers["x-total-count"])

    nl, nl_total = await listed(CPO_TOKEN)
    be, be_total = await listed("be-token")
    assert nl == ["A-1", "LOOSE-1"] and nl_total == 3  # A-1, Alice's app token, LOOSE-1
    assert be == ["A-1", "C-1", "LOOSE-1"] and be_total == 5
    # paging works on the scoped list
    async with httpx.AsyncClient(headers=auth("be-token")) as http:
        r = await http.get(f"{emsp.url}{OCPI}/tokens", params={"offset": 1, "limit": 2})
    assert len(r.json()["data"]) == 2 and r.headers["x-total-count"] == "5" and "link" in r.headers
    # Carol may charge everywhere now: NL/CPO sees her card too
    await drivers.update("carol", allowed_cpos=[])
    assert (await listed(CPO_TOKEN))[0] == ["A-1", "C-1", "LOOSE-1"]

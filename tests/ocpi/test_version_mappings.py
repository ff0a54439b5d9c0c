"""Every OCPI 2.1.1 and 2.3.0 example of the specification (tests/data/ocpi-examples: 2.1.1-inline,
2.3.0, 2.3.0-ed2) goes through its version's mapping: into the model (validated by the model's
classes when it is a whole object) and back out in the version's form, equal to the example,
apart from what a mapping documents it adds (a 2.1.1 Location's time zone, the time a 2.1.1
PATCH was received). Examples that contradict their own specification are listed with the
exact errors they give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from test_payments_mappings import PAYMENTS_230, fac_price

from evroam.model.cdrs import CDR
from evroam.model.common import field_errors
from evroam.model.credentials import Credentials
from evroam.model.locations import EVSE, Location
from evroam.model.sessions import Session
from evroam.model.tariffs import Tariff
from evroam.model.tokens import Token
from evroam.ocpi import registry
from evroam.ocpi.mappings import CannotSay, Context, base
from harness import example_dir

NOW = "2024-05-06T08:00:00Z"
OWNER = ("BE", "BEC")
US = ("NL", "TNM")


def _load(version: str, name: str) -> Any:
    path = example_dir(version) / name
    if not path.is_file():
        pytest.skip(f"no OCPI example {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _names(version: str) -> list[str]:
    folder = example_dir(version)
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []


class EmbeddedLocation:
    """Lookups answering with the Location a 2.1.1 Session embeds (read through the mapping),
    as the CPO's store would."""

    def __init__(self, location: dict[str, Any] | None) -> None:
        self.loc = location

    async def location(self, cc, pid, location_id):
        return self.loc

    async def tariff(self, cc, pid, tariff_id):
        return None

    async def token_by_contract(self, contract_id):
        return None

    async def session(self, cc, pid, session_id):
        return None


# ---------------------------------------------------------------------------------- 2.1.1

V211 = registry.get("2.1.1").mapping
# file -> (kind, model of the whole object or None for a partial one, what the mapping adds)
EXAMPLES_211: dict[str, tuple[str, type | None, dict[str, Any]]] = {
    "credentials_example_01.json": (base.CREDENTIALS, Credentials, {}),
    "mod_locations_example_01.json": (base.EVSE_PATCH, None, {"last_updated": NOW}),
    "mod_locations_example_02.json": (base.LOCATION_PATCH, None, {"last_updated": NOW}),
    "mod_locations_example_03.json": (base.CONNECTOR_PATCH, None, {"last_updated": NOW}),
    "mod_locations_example_05.json": (base.EVSE_PATCH, None, {"last_updated": NOW}),
    "mod_locations_example_06.json": (base.LOCATION, Location, {"time_zone": "Europe/Brussels"}),
    "mod_sessions_example_01.json": (base.SESSION_PATCH, None, {"last_updated": NOW}),
    "mod_sessions_example_02.json": (base.SESSION, Session, {}),
    "mod_sessions_example_03.json": (base.SESSION, Session, {}),
    "mod_tariffs_example_01.json": (base.TARIFF, Tariff, {}),
    "mod_tariffs_example_02.json": (base.TARIFF_PATCH, None, {"last_updated": NOW}),
    "mod_tariffs_example_03.json": (base.TARIFF, Tariff, {}),
    "mod_tariffs_example_04.json": (base.TARIFF, Tariff, {}),
    "mod_tariffs_example_05.json": (base.TARIFF, Tariff, {}),
    "mod_tariffs_example_06.json": (base.TARIFF, Tariff, {}),
    "mod_tariffs_example_07.json": (base.TARIFF, Tariff, {}),
    "mod_tokens_example_01.json": (base.TOKEN, Token, {}),
    "mod_tokens_example_02.json": (base.TOKEN_PATCH, None, {"last_updated": NOW}),
    "mod_tokens_example_03.json": (base.TOKEN, Token, {}),
    "transport_and_format_example_03.json": (base.TOKEN, Token, {}),  # in an envelope
    "transport_and_format_example_04.json": (base.TOKEN, Token, {}),  # a list in an envelope
    "transport_and_format_example_02.json": (base.VERSION_DETAILS, None, {}),
    "version_information_endpoint_example_02.json": (base.VERSION_DETAILS, None, {}),
}
# Versions lists are the same in every version; an error envelope has no data to map.
NOTHING_TO_MAP_211 = {"transport_and_format_example_01.json", "version_information_endpoint_example_01.json",
                      "transport_and_format_example_05.json"}
# The EVSE of "PUT an EVSE" in the 2.1.1 text breaks its own object table.
BROKEN_211 = {
    "mod_locations_example_04.json": (base.EVSE, EVSE, [
        "connectors[0].power_type: Field required",
        "connectors[0].max_voltage: Field required",
        "connectors[0].max_amperage: Field required",
        "connectors[0].last_updated: Field required",
        "physical_reference: Input should be a valid string",
        "last_updated: Field required",
    ]),
}


def test_every_2_1_1_example_is_accounted_for():
    names = _names("2.1.1-inline")
    if not names:
        pytest.skip("no OCPI 2.1.1 examples")
    assert [n for n in names if n not in EXAMPLES_211 and n not in NOTHING_TO_MAP_211 and n not in BROKEN_211] == []
    assert len(names) == 27


def _objects(name: str, data: Any) -> list[Any]:
    data = data["data"] if name.startswith("transport_and_format") else data
    return data if isinstance(data, list) else [data]


@pytest.mark.parametrize("name", sorted(EXAMPLES_211))
async def test_2_1_1_example_round_trips(name):
    kind, model, added = EXAMPLES_211[name]
    for original in _objects(name, _load("2.1.1-inline", name)):
        lookups = None
        if kind == base.SESSION:
            embedded = await V211.inbound(base.LOCATION, original["location"], Context(owner=OWNER))
            lookups = EmbeddedLocation(embedded)
        ctx = Context(owner=OWNER, us=US, now=NOW, lookups=lookups, hints={"roles": ["CPO"]})
        inside = await V211.inbound(kind, original, ctx)
        if model is not None:
            assert model.model_validate(inside).to_dict() == inside, name
        back = await V211.outbound(kind, inside, ctx)
        expected = {**original, **added}
        if kind == base.SESSION:  # the embedded Location is read with its country's time zone too
            expected["location"] = {**original["location"], "time_zone": "Europe/Brussels"}
        if kind == base.VERSION_DETAILS:  # read with the interface role of each endpoint
            assert {e["identifier"]: e["role"] for e in inside["endpoints"]} == {
                "credentials": "SENDER", "locations": "SENDER"}
        assert back == expected, name


async def test_2_1_1_objects_read_into_the_model_as_2_2_1_says_them():
    session = await V211.inbound(base.SESSION, _load("2.1.1-inline", "mod_sessions_example_03.json"),
                                 Context(owner=OWNER, us=US))
    assert (session["country_code"], session["party_id"], session["location_id"], session["evse_uid"],
            session["connector_id"]) == ("BE", "BEC", "LOC1", "3256", "1")
    assert session["start_date_time"] == "2015-06-29T22:39:09Z" and session["end_date_time"] == "2015-06-29T23:50:16Z"
    assert session["total_cost"] == {"excl_vat": 8.5}
    assert session["cdr_token"] == {"country_code": "NL", "party_id": "TNM", "uid": "DE8ACC12E46L89", "type": "OTHER",
                                    "contract_id": "DE8ACC12E46L89"}
    location = await V211.inbound(base.LOCATION, _load("2.1.1-inline", "mod_locations_example_06.json"),
                                  Context(owner=OWNER))
    assert location["parking_type"] == "ON_STREET" and location["publish"] is True
    connector = location["evses"][0]["connectors"][0]
    assert (connector["max_voltage"], connector["max_amperage"], connector["tariff_ids"]) == (220, 16, ["11"])
    token = await V211.inbound(base.TOKEN, _load("2.1.1-inline", "mod_tokens_example_01.json"), Context(owner=US))
    assert token["contract_id"] == "DE8ACC12E46L89" and "auth_id" not in token
    assert (token["country_code"], token["party_id"]) == US


@pytest.mark.parametrize("name", sorted(BROKEN_211))
async def test_broken_2_1_1_examples_give_exactly_the_expected_errors(name):
    kind, model, expected = BROKEN_211[name]
    inside = await V211.inbound(kind, _load("2.1.1-inline", name), Context(owner=OWNER))
    with pytest.raises(ValidationError) as exc:
        model.model_validate(inside)
    assert field_errors(exc.value) == expected


# ---------------------------------------------------------------------------------- 2.3.0

V230 = registry.get("2.3.0").mapping


def _kind_230(name: str) -> tuple[str | None, type | None]:
    """The object an example of the 2.3.0 text holds: (mapping kind or None, model class of a
    whole object or None)."""
    if name.startswith("payment_"):  # the payments module (tests/ocpi/test_payments_mappings.py)
        return PAYMENTS_230[name]
    table = [
        ("cdr_", base.CDR, CDR), ("credentials_", base.CREDENTIALS, Credentials),
        ("location_energymix_", base.LOCATION_PATCH, None), ("location_regularhours_", base.LOCATION_PATCH, None),
        ("location_hours_", None, None), ("location_patch_example_location", base.LOCATION_PATCH, None),
        ("location_patch_", base.EVSE_PATCH, None), ("location_put_example_add_evse", base.EVSE, EVSE),
        ("location_example", base.LOCATION, Location), ("session_patch_", base.SESSION_PATCH, None),
        ("session_", base.SESSION, Session), ("tariff", base.TARIFF, Tariff),
        ("token_patch_", base.TOKEN_PATCH, None), ("token_", base.TOKEN, Token),
        ("transport_and_format_get_token", base.TOKEN, Token),
    ]
    for prefix, kind, model in table:
        if name.startswith(prefix):
            return kind, model
    return None, None  # versions, version details, DisplayText: the same in every version


# The 2.3.0 tag's Location examples give an EVSE's `parking` as a list of ids, against its own
# EVSE table (EVSEParking objects); the second edition corrected them. The "add an EVSE" PUT body
# leaves out required connector fields in both editions (as in 2.2.1).
_PARKING = "parking[{i}]: Input should be a valid dictionary or instance of EVSEParking"
BROKEN_230: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "location_example.json": (("2.3.0",), [
        "evses[0]." + _PARKING.format(i=0), "evses[0]." + _PARKING.format(i=1),
        "evses[1]." + _PARKING.format(i=0), "evses[1]." + _PARKING.format(i=1)]),
    "location_example_parking_garage_opening_hours.json": (("2.3.0",), ["evses[0]." + _PARKING.format(i=0)]),
    "location_put_example_add_evse.json": (("2.3.0", "2.3.0-ed2"), [
        "connectors[0].power_type: Field required", "connectors[0].max_voltage: Field required",
        "connectors[0].max_amperage: Field required", "connectors[0].last_updated: Field required",
        "physical_reference: Input should be a valid string"]),
}


def _added_230(name: str, original: Any) -> Any:
    """The CDR example's tariff leaves out `tax_included`, which 2.3.0 requires: the mapping says
    it (NO: its component names a VAT rate, so its price excludes VAT). The FAC examples give
    `total_costs` as a 2.2.1 Price: read as it is, said back as the 2.3.0 Price they point to."""
    if name == "cdr_example.json":
        return {**original, "tariffs": [{**t, "tax_included": "NO"} for t in original["tariffs"]]}
    if name.startswith("payment_financial_advice_confirmation"):
        return {**original, "total_costs": fac_price(original["total_costs"])}
    return original


@pytest.mark.parametrize("version", ["2.3.0", "2.3.0-ed2"])
async def test_every_2_3_0_example_round_trips(version):
    names = _names(version)
    if not names:
        pytest.skip(f"no OCPI {version} examples")
    checked = wholes = 0
    for name in names:
        kind, model = _kind_230(name)
        data = _load(version, name)
        items = data["data"] if name.startswith("transport_and_format_get_token") else data
        for original in items if isinstance(items, list) else [items]:
            ctx = Context(now=NOW)
            inside = await V230.inbound(kind, original, ctx) if kind else original
            if model is not None:
                try:
                    assert model.model_validate(inside).to_dict() == inside, name
                    wholes += 1
                except ValidationError as exc:
                    versions, errors = BROKEN_230.get(name, ((), []))
                    assert version in versions and field_errors(exc) == errors, (name, field_errors(exc))
            back = await V230.outbound(kind, inside, ctx) if kind else inside
            assert back == _added_230(name, original), name
            checked += 1
    assert len(names) == 72 and checked >= 72 and wholes >= 30


async def test_2_3_0_prices_read_into_the_model():
    cdr = await V230.inbound(base.CDR, _load("2.3.0-ed2", "cdr_example.json"))
    assert cdr["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}
    # several taxes (North America) are kept as they are
    two = {"before_taxes": 10.0, "taxes": [{"name": "GST", "percentage": 5.0, "amount": 0.5},
                                           {"name": "PST", "percentage": 7.0, "amount": 0.7}]}
    session = await V230.inbound(base.SESSION, {"total_cost": two})
    assert session["total_cost"] == {"excl_vat": 10.0, "incl_vat": 11.2, "taxes": two["taxes"]}
    assert (await V230.outbound(base.SESSION, session))["total_cost"] == two
    tariff = await V230.inbound(base.TARIFF, _load("2.3.0-ed2", "tariff_6_025kwh_start_max_price.json"))
    # NO with a VAT rate on every component is what a tariff of the model says (prices excl. VAT)
    assert tariff["max_price"] == {"excl_vat": 10.0, "incl_vat": 11.0} and "tax_included" not in tariff
    # the same CDR to a 2.2.1 partner: its Price, without the 2.3.0 tax list
    v221 = registry.get("2.2.1").mapping
    out = await v221.outbound(base.CDR, CDR.model_validate(cdr).to_dict())
    assert out["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}


def test_examples_folder_is_the_suites():
    assert Path(example_dir("2.1.1-inline")).name == "2.1.1-inline"


async def test_what_2_3_0_adds_is_left_out_for_2_2_1_and_kept_for_2_3_0():
    location = Location.model_validate(_load("2.3.0-ed2", "location_example.json")).to_dict()
    location["help_phone"] = "+3212345678"
    v221 = registry.get("2.2.1").mapping
    raw = orjson.dumps(location)
    said = orjson.loads(await v221.outbound_raw(base.LOCATION, raw))
    assert "help_phone" not in said and "parking_places" not in said
    assert all("parking" not in e for e in said["evses"])
    assert Location.model_validate(said).to_dict() == said  # a 2.2.1 location
    assert await V230.outbound_raw(base.LOCATION, raw) is raw  # 2.3.0: the stored bytes as they are
    plain = orjson.dumps(Location.model_validate(_load("2.2.1", "location_example.json")).to_dict())
    assert await v221.outbound_raw(base.LOCATION, plain) is plain  # nothing to leave out: not parsed
    token = {**Token.model_validate(_load("2.3.0", "token_example_2_full_rfid.json")).to_dict(), "type": "EMAID"}
    assert (await v221.outbound(base.TOKEN, token))["type"] == "OTHER"
    assert (await V211.outbound(base.TOKEN, token))["type"] == "OTHER"
    assert v221.token_types_of("OTHER") == ("OTHER", "EMAID")


async def test_a_2_3_0_hub_names_itself_in_hub_party_id():
    credentials = {"token": "t", "url": "https://hub.example/versions", "hub_party_id": "NLHUB", "roles": [
        {"role": "CPO", "country_code": "DE", "party_id": "AAA", "business_details": {"name": "A"}},
        {"role": "EMSP", "country_code": "FR", "party_id": "BBB", "business_details": {"name": "B"}}]}
    inside = await V230.inbound(base.CREDENTIALS, credentials)
    assert [(r["role"], r["country_code"], r["party_id"]) for r in inside["roles"]] == [
        ("CPO", "DE", "AAA"), ("EMSP", "FR", "BBB"), ("HUB", "NL", "HUB")]
    assert Credentials.model_validate(inside).to_dict() == inside
    assert await V230.outbound(base.CREDENTIALS, inside) == credentials


async def test_2_1_1_credentials_name_one_party_with_the_roles_its_endpoints_show():
    details = {"version": "2.1.1", "endpoints": [
        {"identifier": "credentials", "url": "https://p.example/ocpi/cpo/2.1.1/credentials/"},
        {"identifier": "locations", "url": "https://p.example/ocpi/cpo/2.1.1/locations/"},
        {"identifier": "tokens", "url": "https://p.example/ocpi/cpo/2.1.1/tokens/"},
        {"identifier": "locations", "url": "https://p.example/ocpi/emsp/2.1.1/locations/"},
        {"identifier": "tokens", "url": "https://p.example/ocpi/emsp/2.1.1/tokens/"}]}
    read = await V211.inbound(base.VERSION_DETAILS, details, Context(hints={"our_roles": ["CPO", "EMSP"]}))
    assert read["roles"] == ["CPO", "EMSP"]  # one connection, two roles
    assert [(e["identifier"], e["role"]) for e in read["endpoints"]] == [
        ("credentials", "SENDER"), ("locations", "SENDER"), ("tokens", "RECEIVER"), ("locations", "RECEIVER"),
        ("tokens", "SENDER")]
    # endpoints that do not say: the counterpart of our roles
    bare = {"version": "2.1.1", "endpoints": [{"identifier": "locations", "url": "https://p.example/l"}]}
    read = await V211.inbound(base.VERSION_DETAILS, bare, Context(hints={"our_roles": ["CPO"]}))
    assert read["roles"] == ["EMSP"] and read["endpoints"][0]["role"] == "RECEIVER"
    credentials = _load("2.1.1-inline", "credentials_example_01.json")
    inside = await V211.inbound(base.CREDENTIALS, credentials, Context(hints={"roles": ["CPO", "EMSP"]}))
    assert [(r["role"], r["country_code"], r["party_id"]) for r in inside["roles"]] == [
        ("CPO", "NL", "EXA"), ("EMSP", "NL", "EXA")]
    assert await V211.outbound(base.CREDENTIALS, inside) == credentials


async def test_2_1_1_refuses_to_say_what_would_be_said_wrong():
    tariff = Tariff.model_validate(_load("2.2.1", "tariff_12_025kwh_min_price.json")).to_dict()
    with pytest.raises(CannotSay, match="min price"):
        await V211.outbound(base.TARIFF, tariff)
    assert V211.refusal(base.TARIFF, tariff) and not V211.refusal(base.TARIFF, {**tariff, "min_price": None})
    cdr = CDR.model_validate(_load("2.2.1-d2", "cdr_example.json")).to_dict()
    with pytest.raises(CannotSay, match="Credit CDR"):
        await V211.outbound(base.CDR, {**cdr, "credit": True, "credit_reference_id": "X"}, Context(owner=OWNER))
    with pytest.raises(CannotSay, match="36"):
        await V211.outbound(base.CDR, {**cdr, "id": "x" * 37}, Context(owner=OWNER))
    location = Location.model_validate(_load("2.2.1", "location_example.json")).to_dict()
    with pytest.raises(CannotSay, match="not published"):
        await V211.outbound(base.LOCATION, {**location, "publish": False})
    with pytest.raises(CannotSay, match="CANCEL_RESERVATION"):
        await V211.outbound(base.COMMAND, {"response_url": "u", "reservation_id": "1"},
                            Context(command="CANCEL_RESERVATION"))

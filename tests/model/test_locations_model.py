"""Location / EVSE / Connector model against the OCPI 2.2.1 examples and the spec's rules."""

from __future__ import annotations

import copy

import pytest

from evroam.model.locations import (
    EVSE,
    Capability,
    Connector,
    ConnectorType,
    Hours,
    Location,
    PublishTokenType,
    RegularHours,
    Status,
)

LOCATION_EXAMPLES = [
    "location_example.json",
    "location_example_parking_garage_opening_hours.json",
    "location_example_uc2_destination_charger.json",
    "location_example_uc3_destination_charger_not_published.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
]

HOURS_EXAMPLES = [
    "location_hours_247_open_exception_closing.json",
    "location_hours_opening_hours_with_exceptional_closing.json",
    "location_hours_opening_hours_with_exceptional_opening.json",
]


def _starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("version", ["2.2.1", "2.2.1-d2"])
@pytest.mark.parametrize("name", LOCATION_EXAMPLES)
def test_location_examples_round_trip(example, name, version):
    data = example(name, version)
    assert Location.model_validate(data).to_dict() == data


@pytest.mark.parametrize("name", HOURS_EXAMPLES)
def test_hours_examples_round_trip(example, name):
    data = example(name)
    assert Hours.model_validate(data).to_dict() == data


def test_regular_hours_example_round_trips(example):
    data = example("location_regularhours_example.json")["opening_times"]
    hours = Hours.model_validate(data)
    assert [h.weekday for h in hours.regular_hours] == [1, 2, 3, 4, 5]
    assert hours.to_dict() == data


def test_evses_and_connectors_of_the_examples_round_trip_on_their_own(example):
    # EVSE and Connector PUTs carry the sub-objects alone.
    data = example("location_example.json")
    for evse in data["evses"]:
        assert EVSE.model_validate(evse).to_dict() == evse
        for connector in evse["connectors"]:
            assert Connector.model_validate(connector).to_dict() == connector


def test_parsed_values_are_typed(example):
    loc = Location.model_validate(example("location_example.json"))
    evse = loc.evses[0]
    assert evse.status is Status.AVAILABLE
    assert evse.capabilities == [Capability.RESERVABLE]
    assert evse.connectors[0].standard is ConnectorType.IEC_62196_T2
    assert loc.last_updated.isoformat() == "2015-06-29T20:39:09+00:00"
    assert str(loc.tzinfo) == "Europe/Brussels"


def test_put_add_evse_example_is_not_a_valid_evse(example, invalid):
    # The spec's own "add EVSE" PUT example leaves out required Connector fields and sends
    # physical_reference as a number; it is reported, not accepted.
    lines = invalid(EVSE, example("location_put_example_add_evse.json"))
    for field in ("power_type", "max_voltage", "max_amperage", "last_updated"):
        assert _starts(lines, f"connectors[0].{field}: Field required"), lines
    assert _starts(lines, "physical_reference: Input should be a valid string"), lines
    assert len(lines) == 5


# --------------------------------------------------------------------------- helpers


def test_find_evse_and_connector(example):
    loc = Location.model_validate(example("location_example.json"))
    evse = loc.find_evse("3257")
    assert evse is not None and evse.evse_id == "BE*BEC*E041503002"
    assert loc.find_evse("nope") is None
    assert evse.find_connector("1").tariff_ids == ["12"]
    assert evse.find_connector("2") is None


def test_find_is_case_insensitive_like_cistring(example):
    data = example("location_example_uc2_destination_charger.json")
    loc = Location.model_validate(data)
    uid = data["evses"][0]["uid"]
    assert loc.find_evse(uid.upper()) is loc.evses[0]


def test_find_on_location_without_evses(example):
    data = example("location_example.json")
    del data["evses"]
    loc = Location.model_validate(data)
    assert loc.find_evse("3256") is None
    assert "evses" not in loc.to_dict()


# --------------------------------------------------------------------------- negative


def test_wrong_connector_standard_names_the_path(example, invalid):
    data = example("location_example.json")
    data["evses"][0]["connectors"][0]["standard"] = "TYPE2"
    lines = invalid(Location, data)
    assert len(lines) == 1
    assert lines[0].startswith("evses[0].connectors[0].standard: Input should be")


def test_missing_required_fields(example, invalid):
    data = example("location_example.json")
    del data["time_zone"]
    del data["evses"][1]["connectors"][0]["max_amperage"]
    del data["coordinates"]
    lines = invalid(Location, data)
    assert sorted(lines) == sorted(
        [
            "time_zone: Field required",
            "coordinates: Field required",
            "evses[1].connectors[0].max_amperage: Field required",
        ]
    )


def test_unknown_time_zone_is_explained(example, invalid):
    data = example("location_example.json")
    data["time_zone"] = "CET+1"
    assert invalid(Location, data) == [
        "time_zone: Value error, 'CET+1' is not an IANA time zone name (e.g. Europe/Brussels)"
    ]


@pytest.mark.parametrize(
    "tz", ["", " Europe/Brussels", "Europe/Gent", "../etc/passwd", "/usr/share/zoneinfo/UTC"]
)
def test_time_zone_must_be_an_iana_name(example, invalid, tz):
    data = example("location_example.json")
    data["time_zone"] = tz
    assert _starts(invalid(Location, data), "time_zone: ")


@pytest.mark.parametrize("tz", ["Europe/Oslo", "America/Argentina/Buenos_Aires", "UTC", "Asia/Kolkata"])
def test_time_zone_accepts_iana_names(example, tz):
    data = example("location_example.json")
    data["time_zone"] = tz
    assert Location.model_validate(data).time_zone == tz


@pytest.mark.parametrize("country", ["BE", "BELG", "bel", "B3L"])
def test_country_is_alpha3(example, invalid, country):
    data = example("location_example.json")
    data["country"] = country
    assert _starts(invalid(Location, data), "country: ")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country_code", "BEL"),
        ("party_id", "BECX"),
        ("id", "x" * 37),
        ("address", "a" * 46),
        ("city", "c" * 46),
        ("postal_code", "1" * 11),
        ("state", "s" * 21),
        ("name", "n" * 256),
    ],
)
def test_length_limits(example, invalid, field, value):
    data = example("location_example.json")
    data[field] = value
    lines = invalid(Location, data)
    assert len(lines) == 1 and lines[0].startswith(f"{field}: "), lines


def test_length_limits_at_the_boundary_pass(example):
    data = example("location_example.json")
    data.update(
        id="x" * 36, address="a" * 45, city="c" * 45, postal_code="1" * 10, state="s" * 20, name="n" * 255
    )
    assert Location.model_validate(data).to_dict() == data


def test_evse_needs_a_connector(example, invalid):
    data = example("location_example.json")
    data["evses"][0]["connectors"] = []
    assert _starts(invalid(Location, data), "evses[0].connectors: List should have at least 1 item")


def test_evse_uid_and_connector_id_limits(example, invalid):
    data = example("location_example.json")
    data["evses"][0]["uid"] = "u" * 37
    data["evses"][0]["evse_id"] = "e" * 49
    data["evses"][0]["floor_level"] = "12345"
    data["evses"][0]["physical_reference"] = "p" * 17
    data["evses"][0]["connectors"][1]["tariff_ids"] = ["t" * 37]
    lines = invalid(Location, data)
    for prefix in (
        "evses[0].uid: ",
        "evses[0].evse_id: ",
        "evses[0].floor_level: ",
        "evses[0].physical_reference: ",
        "evses[0].connectors[1].tariff_ids[0]: ",
    ):
        assert _starts(lines, prefix), (prefix, lines)


def test_cistring_rejects_non_ascii(example, invalid):
    data = example("location_example.json")
    data["id"] = "LOC\u00e91"
    assert _starts(invalid(Location, data), "id: String should match pattern")


def test_duplicate_evse_uids_rejected(example, invalid):
    data = example("location_example.json")
    data["evses"][1]["uid"] = data["evses"][0]["uid"]
    assert invalid(Location, data) == ["evses[1].uid: EVSE uid '3256' appears more than once"]


def test_duplicate_connector_ids_rejected(example, invalid):
    data = example("location_example.json")
    data["evses"][0]["connectors"][1]["id"] = "1"
    assert invalid(Location, data) == ["evses[0].connectors[1].id: connector id '1' appears more than once"]


def test_bad_enums_in_lists(example, invalid):
    data = example("location_example.json")
    data["evses"][0]["capabilities"] = ["RESERVABLE", "TELEPORT"]
    data["evses"][0]["status"] = "FREE"
    data["parking_type"] = "HELIPAD"
    lines = invalid(Location, data)
    assert _starts(lines, "evses[0].capabilities[1]: Input should be")
    assert _starts(lines, "evses[0].status: Input should be")
    assert _starts(lines, "parking_type: Input should be")


def test_bad_coordinates(example, invalid):
    data = example("location_example.json")
    data["coordinates"]["latitude"] = "51.04"
    assert _starts(invalid(Location, data), "coordinates.latitude: String should match pattern")


def test_bad_datetime(example, invalid):
    data = example("location_example.json")
    data["evses"][0]["last_updated"] = "yesterday"
    assert _starts(invalid(Location, data), "evses[0].last_updated: Value error")


def test_unknown_fields_are_tolerated_and_dropped(example):
    data = example("location_example.json")
    extended = copy.deepcopy(data)
    extended["x_vendor_rating"] = 4
    extended["evses"][0]["connectors"][0]["x_vendor"] = {"a": 1}
    assert Location.model_validate(extended).to_dict() == data


def test_the_model_keeps_what_2_3_0_adds(example):
    # The model is version-neutral: 2.3.0's Parking places, help_phone and EVSE parking are kept
    # (the 2.2.1 mapping leaves them out for 2.2.1 partners).
    data = example("location_example.json", "2.3.0-ed2")
    data["help_phone"] = "+3212345678"
    out = Location.model_validate(data).to_dict()
    assert out == data
    assert out["parking_places"][0]["vehicle_types"] == ["PERSONAL_VEHICLE"]
    assert out["evses"][0]["parking"] == [{"parking_id": "1", "evse_position": "LEFT"},
                                          {"parking_id": "2", "evse_position": "RIGHT"}]


# --------------------------------------------------------------------------- hours


def test_hours_need_regular_hours_when_not_24_7(invalid):
    assert invalid(Hours, {"twentyfourseven": False}) == [
        "regular_hours: Value error, at least one entry is required when twentyfourseven is false"
    ]
    assert invalid(Hours, {"twentyfourseven": False, "regular_hours": []})[0].startswith("regular_hours: ")


def test_hours_path_inside_location(example, invalid):
    data = example("location_example_parking_garage_opening_hours.json")
    del data["opening_times"]["regular_hours"]
    assert invalid(Location, data) == [
        "opening_times.regular_hours: Value error, at least one entry is required when twentyfourseven is false"
    ]


def test_hours_twentyfourseven_required(invalid):
    assert invalid(
        Hours, {"regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}]}
    ) == ["twentyfourseven: Field required"]


def test_24_7_without_regular_hours_is_fine():
    assert Hours.model_validate({"twentyfourseven": True}).to_dict() == {"twentyfourseven": True}


@pytest.mark.parametrize("weekday", [0, 8, -1])
def test_weekday_range(invalid, weekday):
    lines = invalid(RegularHours, {"weekday": weekday, "period_begin": "08:00", "period_end": "20:00"})
    assert _starts(lines, "weekday: ")


@pytest.mark.parametrize("value", ["8:00", "24:00", "08:60", "0800", "08:00:00", "ab:cd"])
def test_period_is_hh_mm(invalid, value):
    lines = invalid(RegularHours, {"weekday": 1, "period_begin": value, "period_end": "20:00"})
    assert _starts(lines, "period_begin: ")
    lines = invalid(RegularHours, {"weekday": 1, "period_begin": "07:00", "period_end": value})
    assert _starts(lines, "period_end: ")


def test_period_running_to_midnight_or_overnight_is_accepted():
    for begin, end in (("08:00", "00:00"), ("22:00", "06:00"), ("00:00", "23:59")):
        RegularHours.model_validate({"weekday": 3, "period_begin": begin, "period_end": end})


# --------------------------------------------------------------------------- publish tokens


@pytest.mark.parametrize(
    "token",
    [
        {"uid": "12345678905880", "type": "RFID"},
        {"visual_number": "12345-67", "issuer": "NewMotion"},
        {"group_id": "G1"},
        {"group_id": "G1", "issuer": "X"},
    ],
)
def test_publish_token_valid(token):
    assert PublishTokenType.model_validate(token).to_dict() == token


@pytest.mark.parametrize(
    ("token", "lines"),
    [
        ({}, ["(body): Value error, at least one of uid, visual_number or group_id must be set"]),
        (
            {"issuer": "ANWB"},
            ["(body): Value error, at least one of uid, visual_number or group_id must be set"],
        ),
        ({"uid": "123"}, ["type: required when uid is set"]),
        ({"visual_number": "0055375624"}, ["issuer: required when visual_number is set"]),
        (
            {"uid": "123", "visual_number": "0055375624"},
            ["type: required when uid is set", "issuer: required when visual_number is set"],
        ),
    ],
)
def test_publish_token_rules(invalid, token, lines):
    assert invalid(PublishTokenType, token) == lines


def test_publish_token_rules_inside_location(example, invalid):
    data = example("location_example_uc4_limited_visibility.json")
    del data["publish_allowed_to"][2]["type"]
    assert invalid(Location, data) == ["publish_allowed_to[2].type: required when uid is set"]

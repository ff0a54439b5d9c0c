"""Session, ChargingPeriod, CdrToken and charging preferences against the OCPI 2.2.1 examples."""

from __future__ import annotations

import pytest

from evroam.model.sessions import (
    SESSION_ONLY_DIMENSIONS,
    AuthMethod,
    CdrDimension,
    CdrDimensionType,
    CdrToken,
    ChargingPeriod,
    ChargingPreferences,
    ChargingPreferencesResponse,
    Session,
    SessionStatus,
)
from evroam.model.types import ProfileType, TokenType

SESSION_EXAMPLES = ["session_example_1_simple_start.json", "session_example_2_short_finished.json"]


def _starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


@pytest.mark.parametrize("name", SESSION_EXAMPLES)
def test_session_examples_round_trip(example, name):
    # The corrected (d2) revision of the 2.2.1 examples: CdrToken carries country_code/party_id.
    data = example(name, "2.2.1-d2")
    assert Session.model_validate(data).to_dict() == data


@pytest.mark.parametrize("name", SESSION_EXAMPLES)
def test_original_2_2_1_session_examples_lack_cdr_token_owner(example, invalid, name):
    # The examples as released with 2.2.1 still show the 2.2 CdrToken (no country_code /
    # party_id), although the 2.2.1 CdrToken table makes both required. d2 fixed them.
    assert invalid(Session, example(name, "2.2.1")) == [
        "cdr_token.country_code: Field required",
        "cdr_token.party_id: Field required",
    ]


@pytest.mark.parametrize("name", SESSION_EXAMPLES)
def test_original_examples_round_trip_once_owner_is_known(example, name):
    data = example(name, "2.2.1")
    data["cdr_token"] = {"country_code": "NL", "party_id": "TST", **data["cdr_token"]}
    assert Session.model_validate(data).to_dict() == data


def test_session_values(example):
    s = Session.model_validate(example("session_example_2_short_finished.json", "2.2.1-d2"))
    assert s.status is SessionStatus.COMPLETED
    assert s.auth_method is AuthMethod.WHITELIST
    assert s.cdr_token.type is TokenType.RFID
    assert [p.dimensions[0].type for p in s.charging_periods] == [
        CdrDimensionType.ENERGY,
        CdrDimensionType.ENERGY,
        CdrDimensionType.PARKING_TIME,
    ]
    assert s.charging_periods[2].tariff_id == "12"
    assert s.charging_periods[0].tariff_id is None
    assert (s.total_cost.excl_vat, s.total_cost.incl_vat) == (8.5, 9.35)
    assert s.end_date_time > s.start_date_time


@pytest.mark.parametrize(
    "name", ["session_patch_example_charging_period.json", "session_patch_example_total_cost.json"]
)
def test_patch_examples_are_not_full_sessions(example, invalid, name):
    lines = invalid(Session, example(name))
    assert _starts(lines, "id: Field required")
    assert _starts(lines, "cdr_token: Field required")


def test_patch_example_periods_are_valid_charging_periods(example):
    data = example("session_patch_example_charging_period.json")
    assert [ChargingPeriod.model_validate(p).to_dict() for p in data["charging_periods"]] == data[
        "charging_periods"
    ]


@pytest.mark.parametrize(
    "field",
    [
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "kwh",
        "cdr_token",
        "auth_method",
        "location_id",
        "evse_uid",
        "connector_id",
        "currency",
        "status",
        "last_updated",
    ],
)
def test_required_fields(example, invalid, field):
    data = example("session_example_1_simple_start.json", "2.2.1-d2")
    del data[field]
    assert invalid(Session, data) == [f"{field}: Field required"]


def test_optional_fields_stay_absent(example):
    data = example("session_example_1_simple_start.json", "2.2.1-d2")
    out = Session.model_validate(data).to_dict()
    for absent in ("end_date_time", "authorization_reference", "meter_id", "charging_periods"):
        assert absent not in out


def test_all_optional_fields(example):
    data = example("session_example_2_short_finished.json", "2.2.1-d2")
    data.update(authorization_reference="AUTH-1", meter_id="M" * 255)
    assert Session.model_validate(data).to_dict() == data


def test_reservation_session_with_na_evse(example):
    data = example("session_example_1_simple_start.json", "2.2.1-d2")
    data.update(status="RESERVATION", evse_uid="#NA", connector_id="#NA", auth_method="COMMAND")
    s = Session.model_validate(data)
    assert s.status is SessionStatus.RESERVATION and s.evse_uid == "#NA"


def test_errors_name_the_nested_path(example, invalid):
    data = example("session_example_2_short_finished.json", "2.2.1-d2")
    data["charging_periods"][1]["dimensions"][0]["type"] = "FLAT"  # 2.1.1 only
    data["charging_periods"][2]["dimensions"] = []
    data["cdr_token"]["type"] = "CARD"
    data["status"] = "STOPPED"
    lines = invalid(Session, data)
    assert _starts(lines, "charging_periods[1].dimensions[0].type: Input should be 'CURRENT', 'ENERGY'")
    assert _starts(lines, "charging_periods[2].dimensions: List should have at least 1 item")
    assert _starts(lines, "cdr_token.type: Input should be")
    assert _starts(
        lines, "status: Input should be 'ACTIVE', 'COMPLETED', 'INVALID', 'PENDING' or 'RESERVATION'"
    )
    assert len(lines) == 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "s" * 37),
        ("location_id", "l" * 37),
        ("evse_uid", "e" * 37),
        ("connector_id", "c" * 37),
        ("authorization_reference", "a" * 37),
        ("meter_id", "m" * 256),
        ("currency", "EURO"),
        ("currency", "eu"),
        ("country_code", "NLD"),
        ("party_id", "ST"),
    ],
)
def test_lengths_and_codes(example, invalid, field, value):
    data = example("session_example_1_simple_start.json", "2.2.1-d2")
    data[field] = value
    lines = invalid(Session, data)
    assert len(lines) == 1 and lines[0].startswith(f"{field}: "), lines


def test_cdr_token_limits(invalid):
    token = {
        "country_code": "NL",
        "party_id": "TST",
        "uid": "u" * 37,
        "type": "RFID",
        "contract_id": "c" * 37,
    }
    assert sorted(invalid(CdrToken, token)) == [
        "contract_id: String should have at most 36 characters",
        "uid: String should have at most 36 characters",
    ]


def test_total_cost_needs_excl_vat(example, invalid):
    data = example("session_example_1_simple_start.json", "2.2.1-d2")
    data["total_cost"] = {"incl_vat": 3.0}
    assert invalid(Session, data) == ["total_cost.excl_vat: Field required"]


def test_all_dimension_types_and_session_only_set():
    assert {t.value for t in CdrDimensionType} == {
        "CURRENT",
        "ENERGY",
        "ENERGY_EXPORT",
        "ENERGY_IMPORT",
        "MAX_CURRENT",
        "MIN_CURRENT",
        "MAX_POWER",
        "MIN_POWER",
        "PARKING_TIME",
        "POWER",
        "RESERVATION_TIME",
        "STATE_OF_CHARGE",
        "TIME",
    }
    assert {t.value for t in SESSION_ONLY_DIMENSIONS} == {
        "CURRENT",
        "ENERGY_EXPORT",
        "ENERGY_IMPORT",
        "POWER",
        "STATE_OF_CHARGE",
    }


def test_session_only_dimensions_allowed_in_sessions(example):
    data = example("session_example_2_short_finished.json", "2.2.1-d2")
    data["charging_periods"][0]["dimensions"] += [
        {"type": "STATE_OF_CHARGE", "volume": 55},
        {"type": "POWER", "volume": -3.5},
        {"type": "CURRENT", "volume": 16},
    ]
    assert Session.model_validate(data).to_dict() == data


@pytest.mark.parametrize("volume", [-1, 100.5])
def test_state_of_charge_is_a_percentage(invalid, volume):
    assert invalid(CdrDimension, {"type": "STATE_OF_CHARGE", "volume": volume}) == [
        "volume: a STATE_OF_CHARGE must be between 0 and 100"
    ]


def test_charging_preferences():
    data = {
        "profile_type": "FAST",
        "departure_time": "2019-06-23T18:00:00Z",
        "energy_need": 32.5,
        "discharge_allowed": True,
    }
    prefs = ChargingPreferences.model_validate(data)
    assert prefs.profile_type is ProfileType.FAST
    assert prefs.to_dict() == data
    assert ChargingPreferences.model_validate({"profile_type": "REGULAR"}).to_dict() == {
        "profile_type": "REGULAR"
    }


def test_charging_preferences_errors(invalid):
    assert invalid(ChargingPreferences, {"profile_type": "SLOW"}) == [
        "profile_type: Input should be 'CHEAP', 'FAST', 'GREEN' or 'REGULAR'"
    ]
    assert invalid(ChargingPreferences, {"departure_time": "2019-06-23T18:00:00Z"}) == [
        "profile_type: Field required"
    ]


def test_charging_preferences_response_values():
    assert [v.value for v in ChargingPreferencesResponse] == [
        "ACCEPTED",
        "DEPARTURE_REQUIRED",
        "ENERGY_NEED_REQUIRED",
        "NOT_POSSIBLE",
        "PROFILE_TYPE_NOT_SUPPORTED",
    ]

"""Charging profile objects (OCPI 2.2.1 shape)."""

from __future__ import annotations

import pytest

from evroam.model.charging_profiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfile,
    ChargingProfileResponse,
    ChargingProfileResponseType,
    ChargingProfileResult,
    ChargingProfileResultType,
    ChargingRateUnit,
    ClearProfileResult,
    SetChargingProfile,
)

PROFILE = {
    "start_date_time": "2019-06-23T08:00:00Z",
    "duration": 7200,
    "charging_rate_unit": "A",
    "min_charging_rate": 6.0,
    "charging_profile_period": [
        {"start_period": 0, "limit": 32.0},
        {"start_period": 1800, "limit": 16.5},
        {"start_period": 3600, "limit": 8.1},
    ],
}


def _starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


def test_profile_round_trip():
    profile = ChargingProfile.model_validate(PROFILE)
    assert profile.charging_rate_unit is ChargingRateUnit.A
    assert [p.limit for p in profile.charging_profile_period] == [32.0, 16.5, 8.1]
    assert profile.to_dict() == PROFILE


def test_minimal_relative_profile():
    data = {"charging_rate_unit": "W"}
    assert ChargingProfile.model_validate(data).to_dict() == data


def test_set_and_active_profiles():
    set_data = {"charging_profile": PROFILE, "response_url": "https://scsp.example.com/cp/1234"}
    assert SetChargingProfile.model_validate(set_data).to_dict() == set_data
    active = {
        "start_date_time": "2019-06-23T08:00:05Z",
        "charging_profile": {
            "charging_rate_unit": "W",
            "charging_profile_period": [{"start_period": 0, "limit": 11000}],
        },
    }
    assert ActiveChargingProfile.model_validate(active).to_dict() == active
    result = {"result": "ACCEPTED", "profile": active}
    parsed = ActiveChargingProfileResult.model_validate(result)
    assert parsed.result is ChargingProfileResultType.ACCEPTED
    assert parsed.to_dict() == result
    assert ActiveChargingProfileResult.model_validate({"result": "UNKNOWN"}).to_dict() == {
        "result": "UNKNOWN"
    }


def test_results_and_response(invalid):
    assert (
        ChargingProfileResult.model_validate({"result": "REJECTED"}).result
        is ChargingProfileResultType.REJECTED
    )
    assert ClearProfileResult.model_validate({"result": "ACCEPTED"}).to_dict() == {"result": "ACCEPTED"}
    resp = ChargingProfileResponse.model_validate({"result": "TOO_OFTEN", "timeout": 10})
    assert resp.result is ChargingProfileResponseType.TOO_OFTEN
    assert invalid(ChargingProfileResponse, {"result": "ACCEPTED"}) == ["timeout: Field required"]
    assert _starts(
        invalid(ClearProfileResult, {"result": "CLEARED"}),
        "result: Input should be 'ACCEPTED', 'REJECTED' or 'UNKNOWN'",
    )


def test_errors_name_the_nested_path(invalid):
    data = {
        "charging_profile": {
            "charging_rate_unit": "kW",
            "charging_profile_period": [{"start_period": 0, "limit": 16}, {"start_period": -5}],
        }
    }
    lines = invalid(SetChargingProfile, data)
    assert _starts(lines, "charging_profile.charging_rate_unit: Input should be 'W' or 'A'")
    assert _starts(lines, "charging_profile.charging_profile_period[1].start_period: ")
    assert _starts(lines, "charging_profile.charging_profile_period[1].limit: Field required")
    assert _starts(lines, "response_url: Field required")


@pytest.mark.parametrize("limit", [8.15, -1.0])
def test_limit_one_decimal_not_negative(invalid, limit):
    lines = invalid(
        ChargingProfile,
        {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": limit}]},
    )
    assert _starts(lines, "charging_profile_period[0].limit: ")


def test_min_charging_rate_one_decimal(invalid):
    assert _starts(
        invalid(ChargingProfile, {"charging_rate_unit": "A", "min_charging_rate": 6.25}),
        "min_charging_rate: Value error",
    )


def test_periods_must_increase(invalid):
    data = {
        "charging_rate_unit": "W",
        "charging_profile_period": [{"start_period": 0, "limit": 11000}, {"start_period": 0, "limit": 7000}],
    }
    assert invalid(ChargingProfile, data) == [
        "charging_profile_period: Value error, start_period values must increase (0 follows 0)"
    ]


def test_negative_duration(invalid):
    assert _starts(invalid(ChargingProfile, {"charging_rate_unit": "W", "duration": -1}), "duration: ")

"""CDR, CdrLocation and signed data against the OCPI 2.2.1 examples and the spec's rules."""

from __future__ import annotations

import pytest

from evroam.model.cdrs import CDR, CdrLocation, SignedData
from evroam.model.locations import ConnectorType, PowerType
from evroam.model.sessions import SESSION_ONLY_DIMENSIONS, CdrDimensionType
from evroam.model.tariffs import Tariff


def _starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


@pytest.fixture
def cdr(example):
    # The d2 revision of the 2.2.1 example: the original lacks the CdrToken owner (see below).
    return example("cdr_example.json", "2.2.1-d2")


def test_cdr_example_round_trips(cdr):
    assert CDR.model_validate(cdr).to_dict() == cdr


def test_original_2_2_1_cdr_example_lacks_cdr_token_owner(example, invalid):
    data = example("cdr_example.json", "2.2.1")
    assert invalid(CDR, data) == [
        "cdr_token.country_code: Field required",
        "cdr_token.party_id: Field required",
    ]
    data["cdr_token"] = {"country_code": "DE", "party_id": "TNM", **data["cdr_token"]}
    assert CDR.model_validate(data).to_dict() == data


def test_cdr_values(cdr):
    parsed = CDR.model_validate(cdr)
    assert isinstance(parsed.tariffs[0], Tariff)
    assert parsed.tariffs[0].elements[0].price_components[0].step_size == 300
    assert parsed.cdr_location.connector_standard is ConnectorType.IEC_62196_T2
    assert parsed.cdr_location.connector_power_type is PowerType.AC_1_PHASE
    assert parsed.charging_periods[0].dimensions[0].type is CdrDimensionType.TIME
    assert parsed.total_time == 1.973
    assert (parsed.total_cost.excl_vat, parsed.total_cost.incl_vat) == (4.0, 4.4)
    assert parsed.end_date_time > parsed.start_date_time


def test_full_cdr_with_every_optional_field(cdr):
    cdr.update(
        session_id="101",
        authorization_reference="AUTH-1",
        meter_id="METER-1",
        signed_data={
            "encoding_method": "OCMF",
            "encoding_method_version": 1,
            "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
            "signed_values": [
                {"nature": "Start", "plain_data": "OCMF|{...}", "signed_data": "MEUCIQ=="},
                {"nature": "End", "plain_data": "OCMF|{...}", "signed_data": "MEYCIQ=="},
            ],
            "url": "https://transparenz.software/check",
        },
        total_fixed_cost={"excl_vat": 0.5, "incl_vat": 0.6},
        total_energy_cost={"excl_vat": 1.0},
        total_parking_time=0.5,
        total_parking_cost={"excl_vat": 1.0, "incl_vat": 1.2},
        total_reservation_cost={"excl_vat": 0.0, "incl_vat": 0.0},
        remark="EV full",
        invoice_reference_id="INV-2015-06",
        credit=False,
        home_charging_compensation=False,
    )
    cdr["cdr_location"].update(state="Oost-Vlaanderen")
    assert CDR.model_validate(cdr).to_dict() == cdr


@pytest.mark.parametrize(
    "field",
    [
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "end_date_time",
        "cdr_token",
        "auth_method",
        "cdr_location",
        "currency",
        "charging_periods",
        "total_cost",
        "total_energy",
        "total_time",
        "last_updated",
    ],
)
def test_required_fields(cdr, invalid, field):
    del cdr[field]
    assert invalid(CDR, cdr) == [f"{field}: Field required"]


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "address",
        "city",
        "country",
        "coordinates",
        "evse_uid",
        "evse_id",
        "connector_id",
        "connector_standard",
        "connector_format",
        "connector_power_type",
    ],
)
def test_cdr_location_required_fields(cdr, invalid, field):
    del cdr["cdr_location"][field]
    assert invalid(CDR, cdr) == [f"cdr_location.{field}: Field required"]


def test_cdr_needs_a_charging_period(cdr, invalid):
    cdr["charging_periods"] = []
    assert _starts(invalid(CDR, cdr), "charging_periods: List should have at least 1 item")


@pytest.mark.parametrize("dimension", sorted(SESSION_ONLY_DIMENSIONS))
def test_session_only_dimensions_rejected_in_cdrs(cdr, invalid, dimension):
    cdr["charging_periods"][0]["dimensions"].append({"type": dimension.value, "volume": 1})
    assert invalid(CDR, cdr) == [
        f"charging_periods[0].dimensions[1].type: {dimension.value} may only be used in Sessions, not in CDRs"
    ]


def test_cdr_only_dimensions_allowed(cdr):
    cdr["charging_periods"].append(
        {
            "start_date_time": "2015-06-29T23:00:00Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 5.2},
                {"type": "MAX_POWER", "volume": 11},
                {"type": "MIN_POWER", "volume": 0},
                {"type": "MAX_CURRENT", "volume": 16},
                {"type": "MIN_CURRENT", "volume": 6},
                {"type": "PARKING_TIME", "volume": 0.2},
                {"type": "RESERVATION_TIME", "volume": 0.1},
            ],
        }
    )
    assert CDR.model_validate(cdr).to_dict() == cdr


def test_credit_cdr_needs_reference(cdr, invalid):
    cdr.update(id="12345-C", credit=True, total_cost={"excl_vat": -4.0, "incl_vat": -4.4})
    assert invalid(CDR, cdr) == ["credit_reference_id: required when credit is true"]
    cdr["credit_reference_id"] = "12345"
    assert CDR.model_validate(cdr).to_dict() == cdr


def test_errors_name_nested_paths(cdr, invalid):
    cdr["cdr_location"]["connector_standard"] = "TYPE_2"
    cdr["tariffs"][0]["elements"][0]["price_components"][0]["type"] = "KWH"
    cdr["charging_periods"][0]["dimensions"][0]["volume"] = "lots"
    cdr["cdr_token"]["uid"] = "x" * 37
    lines = invalid(CDR, cdr)
    assert _starts(lines, "cdr_location.connector_standard: Input should be")
    assert _starts(lines, "tariffs[0].elements[0].price_components[0].type: Input should be")
    assert _starts(lines, "charging_periods[0].dimensions[0].volume: Input should be a valid number")
    assert _starts(lines, "cdr_token.uid: String should have at most 36 characters")
    assert len(lines) == 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "i" * 40),
        ("session_id", "s" * 37),
        ("authorization_reference", "a" * 37),
        ("meter_id", "m" * 256),
        ("remark", "r" * 256),
        ("invoice_reference_id", "v" * 40),
        ("credit_reference_id", "c" * 40),
        ("currency", "euro"),
    ],
)
def test_lengths(cdr, invalid, field, value):
    cdr[field] = value
    lines = invalid(CDR, cdr)
    assert len(lines) == 1 and lines[0].startswith(f"{field}: "), lines


def test_id_may_have_39_chars_for_credit_suffixes(cdr):
    cdr["id"] = "i" * 36 + "-CR"
    assert CDR.model_validate(cdr).id == cdr["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address", "a" * 46),
        ("city", "c" * 46),
        ("postal_code", "p" * 11),
        ("state", "s" * 21),
        ("evse_id", "e" * 49),
        ("country", "BE"),
    ],
)
def test_cdr_location_limits(cdr, invalid, field, value):
    cdr["cdr_location"][field] = value
    lines = invalid(CDR, cdr)
    assert len(lines) == 1 and lines[0].startswith(f"cdr_location.{field}: "), lines


def test_reservation_only_cdr_location_with_na():
    data = {
        "id": "LOC1",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evse_uid": "#NA",
        "evse_id": "#NA",
        "connector_id": "#NA",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    }
    assert CdrLocation.model_validate(data).to_dict() == data


def test_signed_data_rules(invalid):
    assert invalid(SignedData, {"encoding_method": "OCMF", "signed_values": []})[0].startswith(
        "signed_values: List should have at least 1 item"
    )
    lines = invalid(
        SignedData,
        {
            "encoding_method": "e" * 37,
            "public_key": "k" * 513,
            "url": "u" * 513,
            "signed_values": [{"nature": "n" * 33, "plain_data": "p", "signed_data": "s" * 5001}],
        },
    )
    for prefix in (
        "encoding_method: ",
        "public_key: ",
        "url: ",
        "signed_values[0].nature: ",
        "signed_values[0].signed_data: ",
    ):
        assert _starts(lines, prefix), (prefix, lines)
    assert invalid(
        SignedData, {"encoding_method": "OCMF", "signed_values": [{"nature": "Start", "signed_data": "x"}]}
    ) == ["signed_values[0].plain_data: Field required"]


def test_long_ocmf_plain_data_is_accepted():
    # Real OCMF payloads exceed 2.2.1's 512 characters; 2.3.0 ed2 allows 5000.
    value = {"nature": "End", "plain_data": "OCMF|" + "x" * 1500, "signed_data": "MEUCIQ=="}
    data = {"encoding_method": "OCMF", "signed_values": [value]}
    assert SignedData.model_validate(data).to_dict() == data


def test_unknown_fields_tolerated(cdr):
    extended = dict(cdr, tax_included="NO", x_internal={"a": 1})
    assert CDR.model_validate(extended).to_dict() == cdr

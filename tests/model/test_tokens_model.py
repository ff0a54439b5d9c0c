"""Token and authorization objects against the OCPI 2.2.1 examples and the spec's rules."""

from __future__ import annotations

import pytest

from evroam.model.tokens import (
    AllowedType,
    AuthorizationInfo,
    LocationReferences,
    Token,
    TokenType,
    WhitelistType,
)
from evroam.model.types import ProfileType

TOKEN_EXAMPLES = ["token_example_1_app_user.json", "token_example_2_full_rfid.json", "token_put_example.json"]


def _starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


@pytest.mark.parametrize("version", ["2.2.1", "2.2.1-d2", "2.3.0"])
@pytest.mark.parametrize("name", TOKEN_EXAMPLES)
def test_token_examples_round_trip(example, name, version):
    data = example(name, version)
    assert Token.model_validate(data).to_dict() == data


@pytest.mark.parametrize(
    "name",
    ["transport_and_format_get_token_example.json", "transport_and_format_get_token_list_example.json"],
)
def test_envelope_token_payloads_round_trip(example, name):
    data = example(name)["data"]
    items = data if isinstance(data, list) else [data]
    assert [Token.model_validate(x).to_dict() for x in items] == items


def test_token_values(example):
    token = Token.model_validate(example("token_example_2_full_rfid.json"))
    assert token.type is TokenType.RFID
    assert token.whitelist is WhitelistType.ALLOWED
    assert token.default_profile_type is ProfileType.GREEN
    assert token.energy_contract.supplier_name == "Greenpeace Energy eG"
    assert token.energy_contract.contract_id == "0123456789"


def test_patch_example_is_not_a_full_token(example, invalid):
    # PATCH bodies are partial objects; as a full Token they miss the required fields.
    lines = invalid(Token, example("token_patch_example.json"))
    for field in ("country_code", "party_id", "uid", "type", "contract_id", "issuer", "whitelist"):
        assert _starts(lines, f"{field}: Field required"), (field, lines)


@pytest.mark.parametrize(
    "field",
    [
        "country_code",
        "party_id",
        "uid",
        "type",
        "contract_id",
        "issuer",
        "valid",
        "whitelist",
        "last_updated",
    ],
)
def test_required_fields(example, invalid, field):
    data = example("token_example_1_app_user.json")
    del data[field]
    assert invalid(Token, data) == [f"{field}: Field required"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("type", "EMAI", "Input should be 'AD_HOC_USER', 'APP_USER', 'EMAID', 'OTHER' or 'RFID'"),
        ("whitelist", "SOMETIMES", "Input should be 'ALWAYS', 'ALLOWED', 'ALLOWED_OFFLINE' or 'NEVER'"),
        ("default_profile_type", "SLOW", "Input should be 'CHEAP', 'FAST', 'GREEN' or 'REGULAR'"),
        ("uid", "u" * 37, "String should have at most 36 characters"),
        ("contract_id", "c" * 37, "String should have at most 36 characters"),
        ("group_id", "g" * 37, "String should have at most 36 characters"),
        ("visual_number", "v" * 65, "String should have at most 64 characters"),
        ("issuer", "i" * 65, "String should have at most 64 characters"),
        ("language", "eng", "String should have at most 2 characters"),
        ("valid", "maybe", "Input should be a valid boolean"),
    ],
)
def test_field_errors(example, invalid, field, value, message):
    data = example("token_example_2_full_rfid.json")
    data[field] = value
    lines = invalid(Token, data)
    assert len(lines) == 1 and lines[0].startswith(f"{field}: {message}"), lines


def test_energy_contract_needs_supplier(example, invalid):
    data = example("token_example_2_full_rfid.json")
    del data["energy_contract"]["supplier_name"]
    assert invalid(Token, data) == ["energy_contract.supplier_name: Field required"]


def test_authorization_info_round_trip(example):
    data = {
        "allowed": "ALLOWED",
        "token": example("token_example_2_full_rfid.json"),
        "location": {"location_id": "LOC1", "evse_uids": ["3256", "3257"]},
        "authorization_reference": "567890",
        "info": {"language": "en", "text": "Welcome"},
    }
    info = AuthorizationInfo.model_validate(data)
    assert info.allowed is AllowedType.ALLOWED
    assert info.location.evse_uids == ["3256", "3257"]
    assert info.to_dict() == data


def test_authorization_info_minimal_and_errors(example, invalid):
    token = example("token_example_1_app_user.json")
    assert AuthorizationInfo.model_validate({"allowed": "BLOCKED", "token": token}).to_dict() == {
        "allowed": "BLOCKED",
        "token": token,
    }
    broken = dict(token, type="KEYFOB")
    lines = invalid(AuthorizationInfo, {"allowed": "DENIED", "token": broken})
    assert _starts(
        lines, "allowed: Input should be 'ALLOWED', 'BLOCKED', 'EXPIRED', 'NO_CREDIT' or 'NOT_ALLOWED'"
    )
    assert _starts(lines, "token.type: Input should be")
    assert invalid(AuthorizationInfo, {"allowed": "ALLOWED"}) == ["token: Field required"]


def test_location_references(invalid):
    assert LocationReferences.model_validate({"location_id": "LOC1"}).to_dict() == {"location_id": "LOC1"}
    assert invalid(LocationReferences, {"location_id": "LOC1", "evse_uids": ["x" * 37]}) == [
        "evse_uids[0]: String should have at most 36 characters"
    ]
    # 2.1.1's connector_ids is gone in 2.2.1: tolerated and dropped.
    refs = LocationReferences.model_validate({"location_id": "L", "connector_ids": ["1"]})
    assert refs.to_dict() == {"location_id": "L"}

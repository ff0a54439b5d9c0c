"""Credentials, versions, version details and ClientInfo against the OCPI 2.2.1 examples."""

from __future__ import annotations

import pytest

from evroam.model.common import Role
from evroam.model.credentials import (
    ClientInfo,
    ConnectionStatus,
    Credentials,
    Endpoint,
    InterfaceRole,
    ModuleID,
    Version,
    VersionDetails,
    VersionNumber,
)

CREDENTIALS_EXAMPLES = [
    "credentials_example.json",
    "credentials_example2.json",
    "credentials_example3.json",
    "credentials_example4.json",
]


def _starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


@pytest.mark.parametrize("version", ["2.2.1", "2.2.1-d2", "2.3.0"])
@pytest.mark.parametrize("name", CREDENTIALS_EXAMPLES)
def test_credentials_examples_round_trip(example, name, version):
    data = example(name, version)
    assert Credentials.model_validate(data).to_dict() == data


def test_credentials_values(example):
    creds = Credentials.model_validate(example("credentials_example2.json"))
    assert [r.role for r in creds.roles] == [Role.CPO, Role.EMSP]
    assert creds.roles[1].business_details.name == "Example Provider"


def test_credentials_logo_example(example):
    creds = Credentials.model_validate(example("credentials_example3.json"))
    logo = creds.roles[0].business_details.logo
    assert (logo.type, logo.width, logo.height) == ("jpeg", 512, 512)


@pytest.mark.parametrize("version", ["2.2.1", "2.2.1-d2"])
@pytest.mark.parametrize("name", ["version_details_example.json", "version_details_example2.json"])
def test_version_details_examples_round_trip(example, name, version):
    data = example(name, version)
    details = VersionDetails.model_validate(data)
    assert details.to_dict() == data


@pytest.mark.parametrize("version", ["2.2.1", "2.2.1-d2"])
def test_versions_list_example_round_trips(example, version):
    data = example("versions_info_example.json", version)
    assert [Version.model_validate(v).to_dict() for v in data] == data


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("transport_and_format_version_details_example.json", VersionDetails),
        ("transport_and_format_version_info_example.json", Version),
    ],
)
def test_envelope_examples_payloads_round_trip(example, name, model):
    data = example(name)["data"]
    items = data if isinstance(data, list) else [data]
    assert [model.model_validate(x).to_dict() for x in items] == items


def test_version_details_lookup(example):
    details = VersionDetails.model_validate(example("version_details_example2.json"))
    assert details.version is VersionNumber.V2_2
    ep = details.endpoint(ModuleID.TOKENS, InterfaceRole.SENDER)
    assert ep is not None and ep.url == "https://example.com/ocpi/msp/2.2/tokens/"
    assert (
        details.endpoint("tokens", InterfaceRole.RECEIVER).url == "https://example.com/ocpi/cpo/2.2/tokens/"
    )
    assert details.endpoint(ModuleID.CDRS, InterfaceRole.SENDER) is None


def test_known_values_become_enums_unknown_stay_text():
    assert Version.model_validate({"version": "2.3.0", "url": "u"}).version is VersionNumber.V2_3_0
    future = Version.model_validate({"version": "3.0", "url": "https://x/3.0"})
    assert future.version == "3.0" and not isinstance(future.version, VersionNumber)
    custom = Endpoint.model_validate({"identifier": "nltnm-tokens", "role": "SENDER", "url": "u"})
    assert custom.identifier == "nltnm-tokens"
    assert custom.to_dict() == {"identifier": "nltnm-tokens", "role": "SENDER", "url": "u"}
    assert Endpoint.model_validate({"identifier": "payments", "role": "RECEIVER", "url": "u"}).identifier is (
        ModuleID.PAYMENTS
    )


def test_endpoint_errors(invalid):
    lines = invalid(Endpoint, {"identifier": 5, "role": "SERVER"})
    assert sorted(lines) == sorted(
        [
            "identifier: Input should be a valid string",
            "role: Input should be 'SENDER' or 'RECEIVER'",
            "url: Field required",
        ]
    )


def test_endpoint_role_required_in_2_2_1_shape(invalid):
    assert invalid(Endpoint, {"identifier": "locations", "url": "u"}) == ["role: Field required"]


def test_version_details_needs_endpoints(invalid):
    assert _starts(
        invalid(VersionDetails, {"version": "2.2.1", "endpoints": []}),
        "endpoints: List should have at least 1",
    )


def test_credentials_need_a_role(example, invalid):
    data = example("credentials_example.json")
    data["roles"] = []
    assert _starts(invalid(Credentials, data), "roles: List should have at least 1 item")


def test_credentials_role_errors_name_the_path(example, invalid):
    data = example("credentials_example2.json")
    data["roles"][1]["role"] = "MSP"
    data["roles"][0]["party_id"] = "EXAM"
    del data["roles"][0]["business_details"]["name"]
    lines = invalid(Credentials, data)
    assert _starts(lines, "roles[1].role: Input should be 'CPO', 'EMSP'")
    assert _starts(lines, "roles[0].party_id: String should have at most 3 characters")
    assert _starts(lines, "roles[0].business_details.name: Field required")


def test_credentials_roles_unique(example, invalid):
    data = example("credentials_example4.json")
    data["roles"][2]["party_id"] = "exo"  # CiString: same party as roles[0]
    assert invalid(Credentials, data) == ["roles[2]: role CPO for NL/exo is listed more than once"]


def test_same_party_may_have_several_roles(example):
    data = example("credentials_example2.json")
    assert len(Credentials.model_validate(data).roles) == 2


@pytest.mark.parametrize("token", ["", "a" * 65, "has space", "tab\there", "caf\u00e9"])
def test_credentials_token_format(example, invalid, token):
    data = example("credentials_example.json")
    data["token"] = token
    assert _starts(invalid(Credentials, data), "token: ")


def test_credentials_token_64_chars_ok(example):
    data = example("credentials_example.json")
    data["token"] = "A" * 64
    assert Credentials.model_validate(data).token == "A" * 64


def test_credentials_url_length(example, invalid):
    data = example("credentials_example.json")
    data["url"] = "https://example.com/" + "v" * 240
    assert _starts(invalid(Credentials, data), "url: String should have at most 255 characters")


def test_2_1_1_credentials_are_not_2_2_1_shaped(example, invalid):
    # The 2.1.1 flat form needs the version mapping; as a 2.2.1 object it lacks roles.
    data = example("credentials_example_01.json", "2.1.1-inline")
    assert invalid(Credentials, data) == ["roles: Field required"]


def test_2_3_0_hub_party_id_is_tolerated(example):
    data = example("credentials_example.json", "2.3.0")
    extended = dict(data, hub_party_id="NLHUB")
    assert Credentials.model_validate(extended).to_dict() == data


def test_client_info_round_trip_and_errors(invalid):
    data = {
        "party_id": "ABC",
        "country_code": "NL",
        "role": "CPO",
        "status": "CONNECTED",
        "last_updated": "2019-06-24T12:39:09Z",
    }
    info = ClientInfo.model_validate(data)
    assert info.status is ConnectionStatus.CONNECTED
    assert info.to_dict() == data
    bad = dict(data, status="ONLINE", country_code="NLD")
    del bad["last_updated"]
    lines = invalid(ClientInfo, bad)
    assert _starts(lines, "status: Input should be 'CONNECTED', 'OFFLINE', 'PLANNED' or 'SUSPENDED'")
    assert _starts(lines, "country_code: ")
    assert _starts(lines, "last_updated: Field required")

"""Every OCPI 2.2.1 example file is accounted for: full objects of the domain model validate
and round-trip exactly, partial (PATCH) bodies and other modules' objects are named as such,
and the examples that break the specification are listed with the exact errors they give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evroam.model.cdrs import CDR
from evroam.model.common import DisplayText, EnergyMix
from evroam.model.credentials import Credentials, Version, VersionDetails
from evroam.model.locations import EVSE, Hours, Location
from evroam.model.sessions import Session
from evroam.model.tariffs import Tariff
from evroam.model.tokens import Token


def _data(x: Any) -> Any:
    return x["data"]


# file -> (model, how to get the object(s) out of the file)
FULL_OBJECTS: dict[str, tuple[type, Any]] = {
    "location_example.json": (Location, None),
    "location_example_parking_garage_opening_hours.json": (Location, None),
    "location_example_uc2_destination_charger.json": (Location, None),
    "location_example_uc3_destination_charger_not_published.json": (Location, None),
    "location_example_uc4_limited_visibility.json": (Location, None),
    "location_example_uc5_home_charge_point.json": (Location, None),
    "location_hours_247_open_exception_closing.json": (Hours, None),
    "location_hours_opening_hours_with_exceptional_closing.json": (Hours, None),
    "location_hours_opening_hours_with_exceptional_opening.json": (Hours, None),
    "location_regularhours_example.json": (Hours, lambda x: x["opening_times"]),
    "location_energymix_example_complete.json": (EnergyMix, lambda x: x["energy_mix"]),
    "location_energymix_example_energy_provider.json": (EnergyMix, lambda x: x["energy_mix"]),
    "location_energymix_example_simple.json": (EnergyMix, lambda x: x["energy_mix"]),
    "token_example_1_app_user.json": (Token, None),
    "token_example_2_full_rfid.json": (Token, None),
    "token_put_example.json": (Token, None),
    "transport_and_format_get_token_example.json": (Token, _data),
    "transport_and_format_get_token_list_example.json": (Token, _data),
    "credentials_example.json": (Credentials, None),
    "credentials_example2.json": (Credentials, None),
    "credentials_example3.json": (Credentials, None),
    "credentials_example4.json": (Credentials, None),
    "version_details_example.json": (VersionDetails, None),
    "version_details_example2.json": (VersionDetails, None),
    "versions_info_example.json": (Version, None),
    "transport_and_format_version_details_example.json": (VersionDetails, _data),
    "transport_and_format_version_info_example.json": (Version, _data),
    "type_displaytext_example.json": (DisplayText, None),
    # Valid only in the corrected d2 revision; see BROKEN for the original files.
    "session_example_1_simple_start.json": (Session, None),
    "session_example_2_short_finished.json": (Session, None),
    "cdr_example.json": (CDR, None),
}

# Partial objects (PATCH bodies): not full objects of any class.
PATCHES = {
    "location_patch_example_location.json",
    "location_patch_example_remove_evse.json",
    "location_patch_example_status.json",
    "location_patch_example_tariff.json",
    "session_patch_example_charging_period.json",
    "session_patch_example_total_cost.json",
    "token_patch_example.json",
}

# Examples that contradict the 2.2.1 object tables, with the errors the model reports.
_NO_TOKEN_OWNER = ["cdr_token.country_code: Field required", "cdr_token.party_id: Field required"]
BROKEN: dict[str, tuple[type, list[str]]] = {
    "location_put_example_add_evse.json": (
        EVSE,
        [
            "connectors[0].power_type: Field required",
            "connectors[0].max_voltage: Field required",
            "connectors[0].max_amperage: Field required",
            "connectors[0].last_updated: Field required",
            "physical_reference: Input should be a valid string",
        ],
    ),
    "session_example_1_simple_start.json": (Session, _NO_TOKEN_OWNER),
    "session_example_2_short_finished.json": (Session, _NO_TOKEN_OWNER),
    "cdr_example.json": (CDR, _NO_TOKEN_OWNER),
}

# Tariffs are validated by the tariff model's own tests.
OTHER_MODULES_PREFIXES = ("tariff_", "tariffrestriction_")


def _files(examples: Path, version: str) -> list[str]:
    folder = examples / version
    if not folder.is_dir():
        pytest.skip(f"no OCPI examples at {folder}")
    return sorted(p.name for p in folder.glob("*.json"))


def _load(examples: Path, version: str, name: str) -> Any:
    path = examples / version / name
    if not path.is_file():
        pytest.skip(f"no OCPI example {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_2_2_1_example_is_accounted_for(examples_dir):
    unclassified = [
        name
        for name in _files(examples_dir, "2.2.1")
        if name not in FULL_OBJECTS
        and name not in PATCHES
        and name not in BROKEN
        and not name.startswith(OTHER_MODULES_PREFIXES)
    ]
    assert unclassified == []


@pytest.mark.parametrize("version", ["2.2.1", "2.2.1-d2"])
def test_full_objects_round_trip(examples_dir, version):
    checked = 0
    for name in _files(examples_dir, version):
        if name not in FULL_OBJECTS:
            continue
        model, extract = FULL_OBJECTS[name]
        data = _load(examples_dir, version, name)
        data = extract(data) if extract else data
        items = data if isinstance(data, list) else [data]
        if version == "2.2.1" and name in BROKEN:
            continue
        for item in items:
            assert model.model_validate(item).to_dict() == item, name
        checked += 1
    assert checked >= 27


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_examples_give_exactly_the_expected_errors(examples_dir, invalid, name):
    model, expected = BROKEN[name]
    assert invalid(model, _load(examples_dir, "2.2.1", name)) == expected


@pytest.mark.parametrize("name", sorted(PATCHES))
def test_patch_bodies_are_not_full_objects(examples_dir, invalid, name):
    model = {"location": Location, "session": Session, "token": Token}[name.split("_")[0]]
    if name in ("location_patch_example_remove_evse.json", "location_patch_example_status.json"):
        model = EVSE
    assert invalid(model, _load(examples_dir, "2.2.1", name))


@pytest.mark.parametrize(
    "name", [n for n in FULL_OBJECTS if n.startswith(("location_example", "cdr_", "session_"))]
)
def test_round_trip_is_stable(examples_dir, name):
    # Validating our own output again gives the same output (what we store is what we send).
    model, _ = FULL_OBJECTS[name]
    once = model.model_validate(_load(examples_dir, "2.2.1-d2", name)).to_dict()
    assert model.model_validate(once).to_dict() == once


def test_tariffs_inside_cdr_use_the_tariff_model(examples_dir):
    cdr = CDR.model_validate(_load(examples_dir, "2.2.1-d2", "cdr_example.json"))
    assert all(isinstance(t, Tariff) for t in cdr.tariffs)

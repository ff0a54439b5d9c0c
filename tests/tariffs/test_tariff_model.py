"""The Tariff domain model round-trips every tariff example of the specification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from evroam.model.common import field_errors
from evroam.model.tariffs import Tariff, TaxIncluded

SHARED = Path(__file__).resolve().parents[1] / "data" / "ocpi-examples"
FILES = sorted((SHARED / "2.2.1").glob("tariff*.json")) if SHARED.is_dir() else []


@pytest.mark.skipif(not FILES, reason="OCPI examples not found")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_round_trip(path):
    data = json.loads(path.read_text())
    assert Tariff.model_validate(data).to_dict() == data


@pytest.mark.skipif(not SHARED.is_dir(), reason="OCPI examples not found")
@pytest.mark.parametrize(
    "name",
    ["tariff_19_simple_north_american_exclusive.json", "tariff_20_simple_north_american_inclusive.json"],
)
def test_tax_included_2_3_0(name):
    data = json.loads((SHARED / "2.3.0" / name).read_text())
    t = Tariff.model_validate(data)
    assert t.tax_included in (TaxIncluded.YES, TaxIncluded.NO)
    assert t.to_dict() == data


def test_errors_name_the_field():
    data = json.loads((SHARED / "2.2.1" / "tariff_4_complex.json").read_text()) if FILES else None
    if data is None:
        pytest.skip("OCPI examples not found")
    data["elements"][4]["restrictions"]["day_of_week"] = ["FUNDAY"]
    data["elements"][0]["price_components"][0].pop("step_size")
    with pytest.raises(ValidationError) as exc:
        Tariff.model_validate(data)
    lines = field_errors(exc.value)
    assert "elements[0].price_components[0].step_size: Field required" in lines
    assert any(line.startswith("elements[4].restrictions.day_of_week[0]:") for line in lines)


def test_optional_fields_stay_absent():
    data = {
        "country_code": "NL",
        "party_id": "EVR",
        "id": "1",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "FLAT", "price": 0.0, "step_size": 1}]}],
        "last_updated": "2024-01-01T00:00:00Z",
    }
    assert Tariff.model_validate(data).to_dict() == data

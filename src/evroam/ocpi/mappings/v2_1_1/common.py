"""Pieces several 2.1.1 objects share."""

from __future__ import annotations

from typing import Any


def _energy_mix(mix: Any, inbound: bool) -> Any:
    if not isinstance(mix, dict) or not isinstance(mix.get("environ_impact"), list):
        return mix
    old, new = ("source", "category") if inbound else ("category", "source")
    impacts = [{(new if k == old else k): v for k, v in i.items()} if isinstance(i, dict) else i
               for i in mix["environ_impact"]]
    return {**mix, "environ_impact": impacts}


def energy_mix_in(mix: Any) -> Any:
    """2.1.1 names an EnvironmentalImpact's category `source`."""
    return _energy_mix(mix, True)


def energy_mix_out(mix: Any) -> Any:
    return _energy_mix(mix, False)


def only(values: Any, allowed: frozenset[str]) -> Any:
    """The values of a list that the version has."""
    return [v for v in values if v in allowed] if isinstance(values, list) else values

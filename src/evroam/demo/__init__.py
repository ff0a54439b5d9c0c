"""Demo data for `make run`: our CPO party with 3 locations, 8 EVSEs (AC and DC connectors) and
2 tariffs, built from the OCPI 2.2.1 specification's own examples."""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evroam.app import Platform


def demo_objects() -> tuple[list[dict], list[dict]]:
    folder = resources.files(__package__)
    locations = json.loads(folder.joinpath("locations.json").read_text())
    tariffs = json.loads(folder.joinpath("tariffs.json").read_text())
    return locations, tariffs


async def load_demo(platform: Platform) -> bool:
    """Load the demo data unless we already have locations; True when loaded."""
    s = platform.settings
    async with platform.store.connect() as conn:
        if await platform.store.locations.count(conn, owners=[(s.country_code, s.party_id)]):
            return False
    locations, tariffs = demo_objects()
    await platform.tariffs.import_tariffs(tariffs, as_own=True)
    await platform.locations.import_locations(locations, as_own=True)
    return True

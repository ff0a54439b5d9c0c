"""Sites and circuits: where load management applies.

A site is one grid connection with a capacity (kW and/or A per phase, optionally changing by a
capacity schedule). It is one of our locations (every charger mapped to it belongs to the
site), or a group of chargers named by the operator (`chargers`). Inside a site, circuits nest
(site -> circuit -> ... -> charger), each with its own limit; a charger named in a circuit is fed
by it, the others hang on the grid connection itself.

Every change is validated first (nothing is stored when something is wrong) and announced with a
"site.changed" event, on which the load manager re-plans the site."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from evroam.events import Bus
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import same_id
from evroam.settings import Settings
from evroam.smartcharging import Circuit, load_schedule
from evroam.store import Store
from evroam.store.chargers import ChargerRecord
from evroam.store.sites import CircuitRecord, SiteRecord, SiteRepository

DEFAULT_VOLTAGE = 230.0
_MAX_DEPTH = 16


@dataclass
class SiteModel:
    """A site as the allocator sees it: its circuits (the root has the site's id) and which
    circuit feeds each of its chargers."""

    site: SiteRecord
    circuits: list[Circuit]
    charger_circuit: dict[str, str] = field(default_factory=dict)  # charger id -> innermost circuit id
    chargers: dict[str, ChargerRecord] = field(default_factory=dict)
    alone: bool = False  # not a site: one charger planned alone under an eMSP's profile


def _positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or math.isnan(value) or value <= 0 or math.isinf(value):
        raise Invalid(f"{name}: must be a positive number, got {value!r}")
    return float(value)


def _phases(value: int | None) -> int | None:
    if value is not None and value not in (1, 3):
        raise Invalid(f"phases: 1 or 3, got {value!r}")
    return value


def parse_schedule(data: Any) -> Any:
    """A capacity schedule (the JSON file's content) checked by the allocator's parser."""
    if not isinstance(data, dict):
        raise Invalid("schedule: expected a JSON object with timezone and periods")
    try:
        return load_schedule(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise Invalid(f"schedule: {exc}") from None


def site_view(site: SiteRecord, members: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": site.id, "location_id": site.location_id, "capacity_kw": site.capacity_kw,
        "capacity_a": site.capacity_a, "phases": site.phases, "voltage_v": site.voltage_v,
        "schedule": site.schedule, "fallback_a": site.fallback_a, "start_a": site.start_a, "chargers": site.chargers,
        **({"members": members} if members is not None else {}),
        "circuits": [{"id": c.id, "parent_id": c.parent_id, "limit_a": c.limit_a, "limit_kw": c.limit_kw,
                      "phases": c.phases, "chargers": c.chargers} for c in site.circuits],
    }


class SiteService:
    def __init__(self, store: Store, bus: Bus, settings: Settings) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.repo = SiteRepository()

    # ------------------------------------------------------------------ reading

    async def list(self) -> list[SiteRecord]:
        async with self.store.connect() as conn:
            return await self.repo.list(conn)

    async def get(self, site_id: str) -> SiteRecord:
        async with self.store.connect() as conn:
            site = await self.repo.get(conn, site_id)
        if site is None:
            raise NotFound(f"site {site_id!r} not found (see `evroam sites list`)", kind="site")
        return site

    async def views(self) -> list[dict[str, Any]]:
        sites = await self.list()
        index = await self._by_location()
        return [site_view(s, sorted(self.members(s, {}, index))) for s in sites]

    async def view(self, site_id: str) -> dict[str, Any]:
        site = await self.get(site_id)
        return site_view(site, sorted(self.members(site, {}, await self._by_location())))

    async def _chargers(self) -> dict[str, ChargerRecord]:
        async with self.store.connect() as conn:
            return {c.id: c for c in await self.store.chargers.list(conn)}

    async def _by_location(self) -> dict[str, list[str]]:
        """{location id (case-folded): its chargers' ids}, read without the chargers' records."""
        async with self.store.connect() as conn:
            placements = await self.store.chargers.placements(conn)
        index: dict[str, list[str]] = {}
        for charger_id, location_id in placements:
            if location_id:
                index.setdefault(location_id.casefold(), []).append(charger_id)
        return index

    @staticmethod
    def by_location(chargers: dict[str, ChargerRecord]) -> dict[str, list[str]]:
        """{location id (case-folded): its chargers' ids}, to find many sites' members at once."""
        index: dict[str, list[str]] = {}
        for c in chargers.values():
            if c.location_id:
                index.setdefault(c.location_id.casefold(), []).append(c.id)
        return index

    @staticmethod
    def members(site: SiteRecord, chargers: dict[str, ChargerRecord],
                by_location: dict[str, list[str]] | None = None) -> set[str]:
        """Ids of the chargers of a site: at its location, or named by it or its circuits
        (`by_location`: `by_location(chargers)`, when computed already)."""
        named = set(site.chargers)
        for circuit in site.circuits:
            named.update(circuit.chargers)
        if site.location_id:
            if by_location is None:
                named.update(c.id for c in chargers.values() if c.location_id and same_id(c.location_id,
                                                                                           site.location_id))
            else:
                named.update(by_location.get(site.location_id.casefold(), ()))
        return named

    async def models(self) -> list[SiteModel]:
        """Every site as the allocator sees it (circuits with their schedules parsed)."""
        sites = await self.list()
        index = await self._by_location()
        wanted = sorted({cid for s in sites for cid in self.members(s, {}, index)})
        async with self.store.connect() as conn:  # the records of the sites' chargers only
            chargers = {c.id: c for c in await self.store.chargers.many(conn, wanted)}
        return [self.model(s, chargers, index) for s in sites]

    def model(self, site: SiteRecord, chargers: dict[str, ChargerRecord],
              by_location: dict[str, list[str]] | None = None) -> SiteModel:
        schedule = parse_schedule(site.schedule) if site.schedule else None
        circuits = [Circuit(id=site.id, parent_id=None, limit_a=site.capacity_a, limit_kw=site.capacity_kw,
                            schedule=schedule, phases=site.phases, voltage_v=site.voltage_v)]
        feeds: dict[str, str] = {}
        for c in site.circuits:
            circuits.append(Circuit(id=c.id, parent_id=c.parent_id or site.id, limit_a=c.limit_a,
                                    limit_kw=c.limit_kw, phases=c.phases, voltage_v=site.voltage_v))
            for charger_id in c.chargers:
                feeds[charger_id] = c.id
        members = self.members(site, chargers, by_location)
        return SiteModel(site=site, circuits=circuits,
                         charger_circuit={cid: feeds.get(cid, site.id) for cid in members},
                         chargers={cid: chargers[cid] for cid in members if cid in chargers})

    # ------------------------------------------------------------------ changing

    async def set_site(self, site_id: str, *, capacity_kw: float | None = None, capacity_a: float | None = None,
                       schedule: dict[str, Any] | None = None, clear_schedule: bool = False,
                       phases: int | None = None, voltage_v: float | None = None, fallback_a: float | None = None,
                       start_a: float | None = None, clear_start_a: bool = False,
                       chargers: list[str] | None = None) -> dict[str, Any]:
        """Create a site or change it (options not given keep their value). The id is one of our
        locations, or any name for a group of chargers (then `chargers` is required)."""
        site_id = (site_id or "").strip()
        if not site_id or len(site_id) > 36:
            raise Invalid("site id: 1 to 36 characters (a location id, or a name for a group of chargers)")
        capacity_kw = _positive("capacity_kw", capacity_kw)
        capacity_a = _positive("capacity_a", capacity_a)
        voltage_v = _positive("voltage_v", voltage_v)
        fallback_a = _positive("fallback_a", fallback_a)
        if start_a is not None and (not isinstance(start_a, int | float) or not 0 <= start_a < math.inf):
            raise Invalid(f"start_a: a current of 0 A or more, got {start_a!r}")
        _phases(phases)
        if schedule is not None:
            parse_schedule(schedule)
        cc, pid = self.settings.country_code, self.settings.party_id
        async with self.store.connect() as conn:
            current = await self.repo.get(conn, site_id)
            location = await self.store.locations.get(conn, cc, pid, site_id)
            all_sites = await self.repo.list(conn)
        known = await self._chargers()
        if current is None:
            if capacity_kw is None and capacity_a is None:
                raise Invalid("capacity: give --capacity-kw and/or --capacity-a for a new site")
            if location is None and not chargers:
                raise Invalid(f"{site_id!r} is not one of our locations (a group of chargers needs --chargers)")
            current = SiteRecord(id=location["id"] if location else site_id,
                                 location_id=location["id"] if location else None, capacity_kw=None,
                                 capacity_a=None, phases=3, voltage_v=DEFAULT_VOLTAGE, schedule=None,
                                 fallback_a=None)
        site = replace(
            current,
            capacity_kw=capacity_kw if capacity_kw is not None else current.capacity_kw,
            capacity_a=capacity_a if capacity_a is not None else current.capacity_a,
            schedule=None if clear_schedule else (schedule if schedule is not None else current.schedule),
            phases=phases or current.phases, voltage_v=voltage_v or current.voltage_v,
            fallback_a=fallback_a if fallback_a is not None else current.fallback_a,
            start_a=None if clear_start_a else (float(start_a) if start_a is not None else current.start_a),
            chargers=_charger_list(chargers, known) if chargers is not None else current.chargers,
        )
        self._check_membership(site, [s for s in all_sites if s.id != site.id], known)
        async with self.store.begin() as conn:
            await self.repo.put(conn, site)
            stored = await self.repo.get(conn, site.id)
        self.bus.publish("site.changed", site_id=site.id)
        return site_view(stored, sorted(self.members(stored, known)))

    async def set_circuit(self, site_id: str, circuit_id: str, *, parent: str | None = None,
                          limit_a: float | None = None, limit_kw: float | None = None, phases: int | None = None,
                          chargers: list[str] | None = None) -> dict[str, Any]:
        """Create or change a circuit of a site. `parent`: another circuit of the site (default:
        the grid connection); `chargers`: the chargers it feeds."""
        site = await self.get(site_id)
        circuit_id = (circuit_id or "").strip()
        if not circuit_id or len(circuit_id) > 36:
            raise Invalid("circuit id: 1 to 36 characters")
        if same_id(circuit_id, site.id):
            raise Invalid(f"circuit id: {circuit_id!r} is the site itself; name the circuit differently")
        limit_a = _positive("limit_a", limit_a)
        limit_kw = _positive("limit_kw", limit_kw)
        _phases(phases)
        current = next((c for c in site.circuits if c.id == circuit_id), None)
        if current is None:
            if limit_a is None and limit_kw is None:
                raise Invalid("limit: give --limit-a and/or --limit-kw for a new circuit")
            current = CircuitRecord(site_id=site.id, id=circuit_id, parent_id=None, limit_a=None, limit_kw=None,
                                    phases=site.phases)
        if parent is not None and (same_id(parent, site.id) or parent == ""):
            parent_id: str | None = None
        elif parent is not None:
            match = next((c for c in site.circuits if same_id(c.id, parent)), None)
            if match is None:
                raise NotFound(f"parent: circuit {parent!r} not found in site {site.id!r}", kind="circuit")
            parent_id = match.id
        else:
            parent_id = current.parent_id
        known = await self._chargers()
        circuit = replace(current, parent_id=parent_id,
                          limit_a=limit_a if limit_a is not None else current.limit_a,
                          limit_kw=limit_kw if limit_kw is not None else current.limit_kw,
                          phases=phases or current.phases,
                          chargers=_charger_list(chargers, known) if chargers is not None else current.chargers)
        changed = replace(site, circuits=[c for c in site.circuits if c.id != circuit.id] + [circuit])
        _check_tree(changed)
        async with self.store.connect() as conn:
            others = [s for s in await self.repo.list(conn) if s.id != site.id]
        self._check_membership(changed, others, known)
        async with self.store.begin() as conn:
            await self.repo.put_circuit(conn, circuit)
            stored = await self.repo.get(conn, site.id)
        self.bus.publish("site.changed", site_id=site.id)
        return site_view(stored, sorted(self.members(stored, known)))

    async def remove_circuit(self, site_id: str, circuit_id: str) -> None:
        site = await self.get(site_id)
        circuit = next((c for c in site.circuits if same_id(c.id, circuit_id)), None)
        if circuit is None:
            raise NotFound(f"circuit {circuit_id!r} not found in site {site.id!r}", kind="circuit")
        children = [c.id for c in site.circuits if c.parent_id == circuit.id]
        if children:
            raise Invalid(f"circuit {circuit.id!r} feeds circuits {', '.join(children)}: remove or move them first")
        async with self.store.begin() as conn:
            await self.repo.delete_circuit(conn, site.id, circuit.id)
        self.bus.publish("site.changed", site_id=site.id)

    async def remove(self, site_id: str) -> None:
        site = await self.get(site_id)
        async with self.store.begin() as conn:
            await self.repo.delete(conn, site.id)
        self.bus.publish("site.changed", site_id=site.id, removed=True)

    def _check_membership(self, site: SiteRecord, others: list[SiteRecord], known: dict[str, ChargerRecord]) -> None:
        """A charger belongs to one site and is fed by one circuit."""
        seen: dict[str, str] = {}
        for circuit in site.circuits:
            for charger_id in circuit.chargers:
                if charger_id in seen:
                    raise Invalid(f"chargers: {charger_id} is in circuits {seen[charger_id]} and {circuit.id}; "
                                  f"a charger is fed by one circuit")
                seen[charger_id] = circuit.id
        index = self.by_location(known)
        mine = self.members(site, known, index)
        for other in others:
            shared = mine & self.members(other, known, index)
            if shared:
                raise Invalid(f"chargers: {', '.join(sorted(shared))} already belong to site {other.id!r}")


def _charger_list(chargers: list[str], known: dict[str, ChargerRecord]) -> list[str]:
    out: list[str] = []
    for raw in chargers:
        charger_id = raw.strip()
        if not charger_id:
            continue
        if charger_id not in known:
            raise NotFound(f"chargers: charger {charger_id!r} not found (see `evroam chargers list`)",
                           kind="charger")
        if charger_id not in out:
            out.append(charger_id)
    return out


def _check_tree(site: SiteRecord) -> None:
    """Every circuit's parent exists and no circuit feeds itself."""
    by_id = {c.id: c for c in site.circuits}
    for circuit in site.circuits:
        seen = {circuit.id}
        parent = circuit.parent_id
        depth = 0
        while parent is not None:
            if parent not in by_id:
                raise Invalid(f"circuit {circuit.id!r}: parent {parent!r} does not exist")
            if parent in seen or depth > _MAX_DEPTH:
                raise Invalid(f"circuit {circuit.id!r}: its parents form a loop")
            seen.add(parent)
            parent = by_id[parent].parent_id
            depth += 1

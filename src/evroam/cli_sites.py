"""`evroam sites`: load management. Sites (a location, or a group of chargers) with their grid
capacity and capacity schedule, circuits inside them, the live status (each circuit's load
against its limit, each session's allocation) and the charging profiles sent."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from evroam.cli_support import DB, fail, out, read_json_file, run_service, settings_for

sites_app = typer.Typer(help="Load management: sites, circuits, capacity schedules, allocations.",
                        no_args_is_help=True)


def _number(value: str | None, option: str) -> float | None:
    """A positive number given on the command line (a clear one-line error otherwise)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        fail(f"{option}: expected a number, got {value!r}")
    if not math.isfinite(number) or number <= 0:
        fail(f"{option}: must be a positive number, got {value!r}")
    return number


def _number_or_zero(value: str, option: str) -> float:
    return 0.0 if value.strip() in ("0", "0.0") else _number(value, option)


def _phases(value: str | None) -> int | None:
    if value is None:
        return None
    if value not in ("1", "3"):
        fail(f"--phases: 1 or 3, got {value!r}")
    return int(value)


def _ids(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _print_site(site: dict) -> None:
    limits = " / ".join(x for x in (f"{site['capacity_kw']:g} kW" if site["capacity_kw"] else "",
                                    f"{site['capacity_a']:g} A" if site["capacity_a"] else "") if x)
    schedule = f", schedule ({len(site['schedule'].get('periods') or [])} periods)" if site.get("schedule") else ""
    if site.get("start_a") is not None:
        schedule += f", new sessions start at {site['start_a']:g} A"
    out.print(f"site [bold]{site['id']}[/]: {limits}, {site['phases']} phases{schedule}; "
              f"chargers: {', '.join(site.get('members') or []) or 'none yet'}")
    for c in site["circuits"]:
        climits = " / ".join(x for x in (f"{c['limit_kw']:g} kW" if c["limit_kw"] else "",
                                         f"{c['limit_a']:g} A" if c["limit_a"] else "") if x)
        out.print(f"  circuit {c['id']} (under {c['parent_id'] or site['id']}): {climits}; "
                  f"chargers: {', '.join(c['chargers']) or '-'}")


@sites_app.command("set")
def sites_set(
    site_id: str = typer.Argument(..., help="one of our location ids, or a name for a group of chargers"),
    capacity_kw: str | None = typer.Option(None, "--capacity-kw", help="grid capacity in kW"),
    capacity_a: str | None = typer.Option(None, "--capacity-a", help="grid capacity in A per phase"),
    schedule: Path | None = typer.Option(None, "--schedule", help="capacity schedule file (JSON)"),
    no_schedule: bool = typer.Option(False, "--no-schedule", help="remove the capacity schedule"),
    phases: str | None = typer.Option(None, "--phases", help="1 or 3 (default 3)"),
    voltage: str | None = typer.Option(None, "--voltage", help="phase-to-neutral voltage (default 230)"),
    fallback_a: str | None = typer.Option(None, "--fallback-a",
                                          help="count a charger that refuses profiles at this current (default: "
                                               "its maximum)"),
    start_a: str | None = typer.Option(None, "--start-a",
                                       help="a new session's limit until it gets its own, e.g. 0 (sent to the "
                                            "chargers as TxDefaultProfile); 'none': not sent"),
    chargers: str | None = typer.Option(None, "--chargers", help="CP-1,CP-2: the chargers of a group of chargers"),
    as_json: bool = typer.Option(False, "--json"),
    db: str | None = DB,
) -> None:
    """Create a site or change it (options not given keep their value)."""
    if schedule is not None and no_schedule:
        fail("--schedule and --no-schedule exclude each other")
    data = read_json_file(schedule) if schedule is not None else None
    kw, amps = _number(capacity_kw, "--capacity-kw"), _number(capacity_a, "--capacity-a")
    volts, fallback = _number(voltage, "--voltage"), _number(fallback_a, "--fallback-a")
    count = _phases(phases)
    start = None if start_a in (None, "none") else _number_or_zero(start_a, "--start-a")
    site = run_service(settings_for(db), lambda p: p.sites.set_site(
        site_id, capacity_kw=kw, capacity_a=amps, schedule=data, clear_schedule=no_schedule, phases=count,
        voltage_v=volts, fallback_a=fallback, start_a=start, clear_start_a=start_a == "none",
        chargers=_ids(chargers)))
    if as_json:
        print(json.dumps(site, indent=2))
    else:
        _print_site(site)


@sites_app.command("circuit")
def sites_circuit(
    site_id: str = typer.Argument(..., help="the site"),
    circuit_id: str = typer.Argument(..., help="a name for the circuit"),
    parent: str | None = typer.Option(None, "--parent", help="the circuit feeding it (default: the grid connection)"),
    limit_a: str | None = typer.Option(None, "--limit-a", help="limit in A per phase"),
    limit_kw: str | None = typer.Option(None, "--limit-kw", help="limit in kW"),
    phases: str | None = typer.Option(None, "--phases", help="1 or 3 (default: the site's)"),
    chargers: str | None = typer.Option(None, "--chargers", help="CP-1,CP-2: the chargers it feeds"),
    as_json: bool = typer.Option(False, "--json"),
    db: str | None = DB,
) -> None:
    """Create or change a circuit of a site (site -> circuit -> charger, each with its limit)."""
    amps, kw = _number(limit_a, "--limit-a"), _number(limit_kw, "--limit-kw")
    count = _phases(phases)
    site = run_service(settings_for(db), lambda p: p.sites.set_circuit(
        site_id, circuit_id, parent=parent, limit_a=amps, limit_kw=kw, phases=count, chargers=_ids(chargers)))
    if as_json:
        print(json.dumps(site, indent=2))
    else:
        _print_site(site)


@sites_app.command("remove-circuit")
def sites_remove_circuit(site_id: str, circuit_id: str, db: str | None = DB) -> None:
    """Remove a circuit (its chargers then hang on the site's grid connection)."""
    run_service(settings_for(db), lambda p: p.sites.remove_circuit(site_id, circuit_id))
    out.print(f"circuit {circuit_id} removed from {site_id}")


@sites_app.command("remove")
def sites_remove(site_id: str, db: str | None = DB) -> None:
    """Stop managing a site (the server clears its chargers' profiles)."""
    run_service(settings_for(db), lambda p: p.sites.remove(site_id))
    out.print(f"site {site_id} removed")


@sites_app.command("list")
def sites_list(db: str | None = DB, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every site: capacity, schedule, circuits and chargers."""
    sites = run_service(settings_for(db), lambda p: p.sites.views())
    if as_json:
        print(json.dumps(sites, indent=2))
        return
    if not sites:
        out.print("no sites yet: `evroam sites set LOCATION_ID --capacity-kw N`")
        return
    table = Table("site", "location", "capacity", "phases", "schedule", "circuits", "chargers")
    for s in sites:
        capacity = " / ".join(x for x in (f"{s['capacity_kw']:g} kW" if s["capacity_kw"] else "",
                                          f"{s['capacity_a']:g} A" if s["capacity_a"] else "") if x)
        table.add_row(s["id"], s["location_id"] or "(group)", capacity, str(s["phases"]),
                      f"{len(s['schedule'].get('periods') or [])} periods" if s.get("schedule") else "-",
                      ", ".join(f"{c['id']}<{c['parent_id'] or s['id']}" for c in s["circuits"]) or "-",
                      ", ".join(s.get("members") or []) or "-")
    out.print(table)


@sites_app.command("status")
def sites_status(site_id: str | None = typer.Argument(None, help="one site (default: all)"),
                 as_json: bool = typer.Option(False, "--json"), db: str | None = DB) -> None:
    """Each circuit's load against its limit and each session's allocation (A per phase)."""
    sites = run_service(settings_for(db), lambda p: p.load.status(site_id))
    if as_json:
        print(json.dumps(sites, indent=2))
        return
    if not sites:
        out.print("no sites yet: `evroam sites set LOCATION_ID --capacity-kw N`")
        return
    for s in sites:
        nxt = f", next capacity change {s['next_change'][:16]}" if s.get("next_change") else ""
        out.print(f"[bold]{s['site']}[/] at {s['at'][:19]}{nxt}")
        circuits = Table("circuit", "under", "limit A", "limit kW", "planned A", "in force A", "drawn A", "sessions",
                         title="circuits (A per phase)")
        for c in s["circuits"]:
            circuits.add_row(c["id"], c["parent_id"] or "-", _fmt(c["limit_a"]), _fmt(c["limit_kw"]),
                             _fmt(c["planned_a"]), _fmt(c["in_force_a"]), _fmt(c["drawn_a"]), str(c["sessions"]),
                             style="red" if c["overloaded"] else None)
        out.print(circuits)
        if not s["sessions"]:
            out.print("  no sessions running")
            continue
        sessions = Table("charger", "EVSE", "session", "circuit", "phases", "max A", "planned A", "in force",
                         "drawn A", "state", "departure", "need kWh", title="sessions")
        for x in s["sessions"]:
            in_force = f"{_fmt(x['in_force'])} {x['unit']}" if x["in_force"] is not None else "-"
            sessions.add_row(x["charger_id"], str(x["evse"]), (x["session_id"] or x["transaction_id"])[:12],
                             x["circuit"], str(x["phases"]), _fmt(x["max_a"]), _fmt(x["planned_a"]), in_force,
                             _fmt(x["drawn_a"]), x["state"], (x["departure_time"] or "-")[:16],
                             _fmt(x["energy_need"]))
        out.print(sessions)


@sites_app.command("profiles")
def sites_profiles(charger: str | None = typer.Option(None, "--charger", help="only this charger"),
                   limit: int = typer.Option(50, "--limit", help="the newest N"),
                   as_json: bool = typer.Option(False, "--json"), db: str | None = DB) -> None:
    """The charging profiles sent to chargers, newest first, with the chargers' answers."""
    rows = run_service(settings_for(db), lambda p: p.load.profiles_sent(charger_id=charger, limit=max(1, limit)))
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("sent", "charger", "EVSE", "transaction", "action", "purpose", "limit", "answer")
    for r in rows:
        limit_text = f"{r['limit']:g} {r['unit']}" if r["limit"] is not None else "-"
        table.add_row(r["sent_at"][:23], r["charger_id"], str(r["evse"]), r["transaction_id"] or "-", r["action"],
                      r["purpose"], limit_text, r["status"])
    out.print(table)

"""`evroam chargers`, `evroam tokens`, `evroam sessions`, `evroam cdrs` and `evroam log`: the
charger registry, our drivers' tokens, charging records and the OCPP transaction log."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.table import Table

from evroam.cli_support import DB, fail, out, run_service, settings_for

chargers_app = typer.Typer(help="Chargers (OCPP): register, map to EVSEs, approve.", no_args_is_help=True)
tokens_app = typer.Typer(help="Our drivers' tokens (we are their eMSP).", no_args_is_help=True)
sessions_app = typer.Typer(help="Charging sessions at our chargers.", no_args_is_help=True)
cdrs_app = typer.Typer(help="CDRs of sessions at our chargers.", no_args_is_help=True)


def _mapping(text: str | None):
    from evroam.services.chargers import parse_evse_mapping
    from evroam.services.errors import ServiceError

    if text is None:
        return None
    try:
        return parse_evse_mapping(text)
    except ServiceError as exc:
        fail(exc.message)


@chargers_app.command("add")
def chargers_add(
    charger_id: str = typer.Argument(..., help="the charge point id (last part of its URL, Basic-auth user)"),
    password: str | None = typer.Option(None, "--password", help="its Basic-auth password (8-64 characters)"),
    location: str = typer.Option(..., "--location", help="id of one of our locations"),
    evse: str = typer.Option(..., "--evse", help="CONNECTOR=EVSE_UID[,...]: OCPP 1.6 connectorId / 2.x evseId"),
    db: str | None = DB,
) -> None:
    """Register a charger (or map a Pending one) and map its connectors to EVSEs."""
    mapping = _mapping(evse)
    charger = run_service(settings_for(db), lambda p: p.chargers.add(charger_id, password=password,
                                                                     location_id=location, evses=mapping))
    evses = ", ".join(f"{k}={v}" for k, v in charger["evses"].items())
    out.print(f"charger [bold]{charger_id}[/] ({charger['status']}) at {location}: {evses}")


@chargers_app.command("update")
def chargers_update(
    charger_id: str, password: str | None = typer.Option(None, "--password"),
    location: str | None = typer.Option(None, "--location"), evse: str | None = typer.Option(None, "--evse"),
    db: str | None = DB,
) -> None:
    """Change a charger's password, location or connector mapping."""
    mapping = _mapping(evse)
    run_service(settings_for(db), lambda p: p.chargers.update(charger_id, password=password, location_id=location,
                                                              evses=mapping))
    out.print(f"charger {charger_id} updated")


@chargers_app.command("approve")
def chargers_approve(charger_id: str, db: str | None = DB) -> None:
    """Accept a charger that connected unknown (its next BootNotification is Accepted)."""
    charger = run_service(settings_for(db), lambda p: p.chargers.approve(charger_id))
    out.print(f"charger {charger_id} is {charger['status']}")


@chargers_app.command("remove")
def chargers_remove(charger_id: str, db: str | None = DB) -> None:
    run_service(settings_for(db), lambda p: p.chargers.remove(charger_id))
    out.print(f"charger {charger_id} removed")


@chargers_app.command("list")
def chargers_list(db: str | None = DB, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every charger: status, location and EVSE mapping, OCPP version, last seen."""
    from evroam.services.chargers import view

    items = [view(c) for c in run_service(settings_for(db), lambda p: p.chargers.list())]
    if as_json:
        print(json.dumps(items, indent=2))
        return
    if not items:
        out.print("no chargers yet: `evroam chargers add CP-ID --password PW --location LOC --evse 1=EVSE_UID`")
        return
    table = Table("id", "status", "location", "EVSEs", "OCPP", "last seen")
    for c in items:
        table.add_row(c["id"], c["status"], c["location_id"] or "-",
                      ", ".join(f"{k}={v}" for k, v in c["evses"].items()) or "-", c["ocpp_version"] or "-",
                      (c["last_seen_at"] or "-")[:19])
    out.print(table)


@tokens_app.command("add")
def tokens_add(
    uid: str, token_type: str = typer.Option("RFID", "--type"),
    contract_id: str | None = typer.Option(None, "--contract-id", help="default: the uid"),
    whitelist: str = typer.Option("ALLOWED", "--whitelist", help="ALWAYS, ALLOWED, ALLOWED_OFFLINE or NEVER"),
    invalid: bool = typer.Option(False, "--invalid", help="store it blocked (valid = false)"),
    db: str | None = DB,
) -> None:
    """Add or replace one of our drivers' tokens; pushed to our CPO partners."""
    data = {"uid": uid, "type": token_type.upper(), "whitelist": whitelist.upper(), "valid": not invalid}
    if contract_id:
        data["contract_id"] = contract_id
    token = run_service(settings_for(db), lambda p: p.tokens.add_own(data))
    out.print(f"token {token['uid']} ({token['type']}, {token['whitelist']}, "
              f"{'valid' if token['valid'] else 'blocked'})")


def _records(kind: str, db: str | None, as_json: bool, limit: int) -> None:
    settings = settings_for(db)

    async def work(p):
        repo = p.store.sessions if kind == "sessions" else p.store.cdrs
        async with p.store.connect() as conn:
            return await repo.all(conn, (settings.country_code, settings.party_id), limit=limit)

    items = run_service(settings, work)
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table("id", "start", "end", "kWh", "cost excl. VAT", "cost incl. VAT", "token", "EVSE",
                  *(["status"] if kind == "sessions" else []))
    for x in items:
        cost = x.get("total_cost") or {}
        evse = x.get("evse_uid") or (x.get("cdr_location") or {}).get("evse_uid", "")
        table.add_row(x["id"], x["start_date_time"], x.get("end_date_time", "-"),
                      str(x.get("kwh", x.get("total_energy"))), str(cost.get("excl_vat", "-")),
                      str(cost.get("incl_vat", "-")), x["cdr_token"]["uid"], evse,
                      *([x["status"]] if kind == "sessions" else []))
    out.print(table)


@sessions_app.command("list")
def sessions_list(db: str | None = DB, as_json: bool = typer.Option(False, "--json"),
                  limit: int = typer.Option(50, "--limit")) -> None:
    """Our newest sessions."""
    _records("sessions", db, as_json, limit)


@cdrs_app.command("list")
def cdrs_list(db: str | None = DB, as_json: bool = typer.Option(False, "--json"),
              limit: int = typer.Option(50, "--limit")) -> None:
    """Our newest CDRs."""
    _records("cdrs", db, as_json, limit)


def _moment(value: str | None, name: str) -> datetime | None:
    from evroam.model.common import parse_datetime

    if value is None:
        return None
    try:
        return parse_datetime(value if len(value) > 16 else value + ":00" if len(value) == 16 else value + "T00:00:00")
    except ValueError as exc:
        fail(f"{name}: {exc} (e.g. 2024-05-06T08:00)")
    return None


def log_command(
    charger: str | None = typer.Option(None, "--charger", help="only this charger"),
    since: str | None = typer.Option(None, "--since", help="from this UTC time, e.g. 2024-05-06T08:00"),
    until: str | None = typer.Option(None, "--until", help="before this UTC time"),
    limit: int = typer.Option(200, "--limit", help="the newest N entries"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    db: str | None = DB,
) -> None:
    """The OCPP transaction log: every message to and from chargers, oldest first."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    entries = run_service(settings_for(db), lambda p: p.ocpp_log.query(charger_id=charger, since=start, until=end,
                                                                       limit=limit))
    for e in entries:
        if as_json:
            print(json.dumps({"at": e.at.isoformat(), "charger": e.charger_id, "direction": e.direction,
                              "action": e.action, "unique_id": e.unique_id, "frame": e.frame}))
        else:
            arrow = "->" if e.direction == "in" else "<-"
            print(f"{e.at.isoformat(timespec='milliseconds')} {e.charger_id} {arrow} {e.action or '-'} {e.frame}")
    if not entries and not as_json:
        out.print("no OCPP messages match")

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


@sessions_app.command("flagged")
def sessions_flagged(db: str | None = DB, as_json: bool = typer.Option(False, "--json"),
                     charger: str | None = typer.Option(None, "--charger", help="only this charger"),
                     limit: int = typer.Option(50, "--limit")) -> None:
    """Transactions to look at: refused at their start, orphans (never seen starting), or with meter
    readings refused as implausible, stop values ignored or a pricing that failed."""
    from evroam.services.charging import transaction_view

    found = run_service(settings_for(db), lambda p: p.charging.transactions(charger_id=charger, flagged=True,
                                                                            limit=limit))
    items = [transaction_view(tx) for tx in found]
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table("charger", "transaction", "status", "session", "started", "flags")
    for x in items:
        flags = x["flags"]
        why = "; ".join(filter(None, [flags.get("rejected"), flags.get("orphan"),
                                      f"{flags['refused_count']} readings refused" if flags.get("refused_count") else "",
                                      flags.get("pricing_error"), flags.get("stop_meter"),
                                      f"{len(flags['dropped'])} stop values ignored" if flags.get("dropped") else ""]))
        table.add_row(x["charger_id"], x["transaction_id"], x["status"], x["session_id"] or "-", x["started_at"], why)
    out.print(table)


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


# ------------------------------------------------------------------ commands to connected chargers
# The OCPP connections live in the `evroam serve` process: these commands go through its admin API.


def _server_call(db: str | None, method: str, path: str, *, json_body=None, params=None) -> dict:
    import httpx

    from evroam.backoffice.auth import ensure_admin_token

    settings = settings_for(db)
    url = f"{settings.base_url}/admin/api/chargers{path}"
    try:
        reply = httpx.request(method, url, json=json_body, params=params, timeout=settings.command_timeout + 5,
                              headers={"Authorization": f"Bearer {ensure_admin_token(settings)}"})
    except httpx.TransportError as exc:
        fail(f"cannot reach the evroam server at {settings.base_url} ({exc}): is `evroam serve` running?")
    try:
        data = reply.json()
    except ValueError:
        data = {"detail": reply.text}
    if reply.status_code >= 400:
        detail = data.get("detail") if isinstance(data, dict) else data
        fail(detail if isinstance(detail, str) else json.dumps(detail))
    return data


def _show(data: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2))
        return
    out.print(f"{data['charger_id']} (OCPP {data['ocpp_version']}) {data['action']}: "
              f"{json.dumps(data['answer'])}", highlight=False)


AS_JSON = typer.Option(False, "--json", help="print the whole answer as JSON")


@chargers_app.command("reset")
def chargers_reset(charger_id: str, hard: bool = typer.Option(False, "--hard", help="reboot now (1.6 Hard, 2.x "
                                                                                   "Immediate)"),
                   db: str | None = DB, as_json: bool = AS_JSON) -> None:
    """Reset a connected charger (soft / on idle by default)."""
    _show(_server_call(db, "POST", f"/{charger_id}/reset", json_body={"hard": hard}), as_json)


@chargers_app.command("availability")
def chargers_availability(charger_id: str, state: str = typer.Argument(..., help="operative | inoperative"),
                          connector: int = typer.Option(0, "--connector", help="connector (1.6) / EVSE (2.x); 0: "
                                                                               "the whole charger"),
                          db: str | None = DB, as_json: bool = AS_JSON) -> None:
    """Make a connector/EVSE (or the whole charger) operative or inoperative."""
    if state.lower() not in ("operative", "inoperative"):
        fail("state: operative or inoperative")
    _show(_server_call(db, "POST", f"/{charger_id}/availability",
                       json_body={"evse": connector, "operative": state.lower() == "operative"}), as_json)


@chargers_app.command("trigger")
def chargers_trigger(charger_id: str, message: str = typer.Argument(..., help="e.g. StatusNotification, Heartbeat"),
                     connector: int | None = typer.Option(None, "--connector"), db: str | None = DB,
                     as_json: bool = AS_JSON) -> None:
    """Ask a charger to send a message now (TriggerMessage)."""
    _show(_server_call(db, "POST", f"/{charger_id}/trigger", json_body={"message": message, "evse": connector}),
          as_json)


@chargers_app.command("config")
def chargers_config(charger_id: str, key: str | None = typer.Argument(None, help="1.6 key, or 2.x "
                                                                                 "Component.Variable"),
                    value: str | None = typer.Option(None, "--set", help="change it to this value"),
                    db: str | None = DB, as_json: bool = AS_JSON) -> None:
    """Read (or with --set change) configuration: 1.6 keys, 2.x Component.Variable variables."""
    if value is not None:
        if key is None:
            fail("--set needs a KEY")
        _show(_server_call(db, "PUT", f"/{charger_id}/config", json_body={"key": key, "value": value}), as_json)
    else:
        _show(_server_call(db, "GET", f"/{charger_id}/config", params={"key": [key] if key else []}), as_json)


@chargers_app.command("clear-cache")
def chargers_clear_cache(charger_id: str, db: str | None = DB, as_json: bool = AS_JSON) -> None:
    """Clear a charger's authorization cache."""
    _show(_server_call(db, "POST", f"/{charger_id}/clear-cache"), as_json)


@chargers_app.command("local-list")
def chargers_local_list(charger_id: str, action: str = typer.Argument(..., help="send | version | clear"),
                        token: list[str] = typer.Option([], "--token", help="token uid to send (repeat)"),
                        db: str | None = DB, as_json: bool = AS_JSON) -> None:
    """The charger's local authorization list: its version, send a full list, or clear it."""
    if action == "version":
        _show(_server_call(db, "GET", f"/{charger_id}/local-list"), as_json)
    elif action == "send":
        if not token:
            fail("send: give the tokens with --token UID (repeat it)")
        _show(_server_call(db, "PUT", f"/{charger_id}/local-list", json_body={"tokens": token}), as_json)
    elif action == "clear":
        _show(_server_call(db, "PUT", f"/{charger_id}/local-list", json_body={"tokens": []}), as_json)
    else:
        fail("action: send, version or clear")


@chargers_app.command("start")
def chargers_start(charger_id: str, evse: int = typer.Option(..., "--evse", help="connector (1.6) / EVSE (2.x)"),
                   token: str = typer.Option(..., "--token", help="token uid"), db: str | None = DB,
                   as_json: bool = AS_JSON) -> None:
    """Start charging remotely for a token."""
    _show(_server_call(db, "POST", f"/{charger_id}/start", json_body={"evse": evse, "token": token}), as_json)


@chargers_app.command("stop")
def chargers_stop(charger_id: str, session: str = typer.Option(..., "--session", help="session id"),
                  db: str | None = DB, as_json: bool = AS_JSON) -> None:
    """Stop a session remotely."""
    _show(_server_call(db, "POST", f"/{charger_id}/stop", json_body={"session_id": session}), as_json)


@chargers_app.command("unlock")
def chargers_unlock(charger_id: str, evse: int = typer.Option(..., "--evse", help="connector (1.6) / EVSE (2.x)"),
                    connector: int = typer.Option(1, "--connector", help="connector of the EVSE (2.x)"),
                    db: str | None = DB, as_json: bool = AS_JSON) -> None:
    """Unlock a connector."""
    _show(_server_call(db, "POST", f"/{charger_id}/unlock", json_body={"evse": evse, "connector": connector}),
          as_json)

"""`evroam commands`: remote commands we send as the eMSP, for one of our drivers, to the CPO of
a location (OCPI START_SESSION, STOP_SESSION), and the commands sent so far with their states.

The CPO posts each command's result to our server (the command's response_url), so `evroam
serve` must be running for results to arrive; `--wait` then follows the state until it is final."""

from __future__ import annotations

import json
import time

import typer
from rich.table import Table

from evroam.cli_support import DB, fail, out, run_service, settings_for

commands_app = typer.Typer(help="Remote commands to CPO partners (we are the eMSP): start, stop, list.",
                           no_args_is_help=True)
AS_JSON = typer.Option(False, "--json", help="print the command record as JSON")


def _waiting(record: dict) -> bool:
    """Sent, and no result yet."""
    return record["state"] == "REQUESTED" or (record["state"] == "ACCEPTED" and record["result"] is None)


def _triple(value: str, what: str) -> tuple[str, str, str]:
    parts = value.split("/")
    if len(parts) != 3 or not all(parts):
        fail(f"--{what}: expected COUNTRY/PARTY/ID (e.g. NL/CPO/LOC1), got {value!r}")
    return parts[0].upper(), parts[1].upper(), parts[2]


async def _token(p, driver: str | None, uid: str | None) -> dict:
    from evroam.services.errors import NotFound

    s = p.settings
    if driver is not None:
        drivers = getattr(p, "drivers", None)
        if drivers is None:
            raise ValueError("drivers are not available on this platform: use --token")
        found = await drivers.get(driver)
        tokens = [t for t in await drivers.tokens_of(found) if t.get("valid")]
        if uid is not None:
            tokens = [t for t in tokens if t["uid"].casefold() == uid.casefold()]
        tokens.sort(key=lambda t: t["type"] != "APP_USER")
        if not tokens:
            raise ValueError(f"driver {driver!r} has no valid token" + (f" {uid!r}" if uid else ""))
        return tokens[0]
    async with p.store.connect() as conn:
        found = [t for t in await p.store.tokens.find(conn, uid)
                 if (t["country_code"].upper(), t["party_id"].upper()) == (s.country_code, s.party_id)]
    if not found:
        raise NotFound(f"token {uid!r} is not one of our drivers' tokens (see `evroam tokens add`)", kind="token")
    return found[0]


def _follow(p, record: dict, wait: bool, timeout: float):
    """Poll the command until its state is final (the server records the CPO's result)."""
    async def work():
        current = record
        deadline = time.monotonic() + timeout
        while wait and _waiting(current) and time.monotonic() < deadline:
            import asyncio

            await asyncio.sleep(0.5)
            current = await p.remote_commands.get(record["id"])
        return current

    return work()


def _show(record: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, indent=2))
        return
    where = "/".join(x for x in (record["country_code"], record["party_id"], record.get("location_id") or "",
                                 record.get("evse_uid") or "") if x)
    out.print(f"command [bold]{record['id']}[/] {record['command']} at {where} via {record['partner']}: "
              f"[bold]{record['state']}[/]")
    for part in ("response", "result"):
        if record.get(part):
            text = " ".join(m["text"] for m in record[part].get("message") or [])
            out.print(f"  {part}: {record[part]['result']}" + (f" ({text})" if text else ""))
    if record.get("session_id"):
        out.print(f"  session: {record['session_id']}")


@commands_app.command("start")
def commands_start(
    location: str = typer.Option(..., "--location", help="COUNTRY/PARTY/LOCATION_ID of a CPO partner's location"),
    evse: str | None = typer.Option(None, "--evse", help="EVSE uid (default: the CPO picks one)"),
    connector: str | None = typer.Option(None, "--connector", help="connector id (needs --evse)"),
    driver: str | None = typer.Option(None, "--driver", help="one of our drivers (id or name): its token"),
    token: str | None = typer.Option(None, "--token", help="uid of one of our drivers' tokens"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="follow the command until its result"),
    timeout: float = typer.Option(60.0, help="seconds --wait follows it at most"),
    as_json: bool = AS_JSON,
    db: str | None = DB,
) -> None:
    """Start charging for a driver at a CPO partner's EVSE (OCPI START_SESSION)."""
    if driver is None and token is None:
        fail("give --driver NAME or --token UID")
    cc, pid, loc = _triple(location, "location")

    async def work(p):
        tok = await _token(p, driver, token)
        record = await p.remote_commands.start_session(token=tok, country_code=cc, party_id=pid, location_id=loc,
                                                       evse_uid=evse, connector_id=connector)
        return await _follow(p, record, wait, timeout)

    record = run_service(settings_for(db), work)
    _show(record, as_json)
    if record["state"] not in ("ACCEPTED",):
        raise typer.Exit(1)


@commands_app.command("stop")
def commands_stop(
    session: str = typer.Option(..., "--session", help="COUNTRY/PARTY/SESSION_ID of one of our drivers' sessions"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="follow the command until its result"),
    timeout: float = typer.Option(60.0, help="seconds --wait follows it at most"),
    as_json: bool = AS_JSON,
    db: str | None = DB,
) -> None:
    """Stop one of our drivers' sessions at a CPO partner (OCPI STOP_SESSION)."""
    cc, pid, sid = _triple(session, "session")

    async def work(p):
        record = await p.remote_commands.stop_session(country_code=cc, party_id=pid, session_id=sid)
        return await _follow(p, record, wait, timeout)

    record = run_service(settings_for(db), work)
    _show(record, as_json)
    if record["state"] not in ("ACCEPTED",):
        raise typer.Exit(1)


@commands_app.command("show")
def commands_show(command_id: str, as_json: bool = AS_JSON, db: str | None = DB) -> None:
    """One command with the CPO's response and result."""
    record = run_service(settings_for(db), lambda p: p.remote_commands.get(command_id))
    if record is None:
        fail(f"no command {command_id!r}")
    _show(record, as_json)


@commands_app.command("list")
def commands_list(limit: int = typer.Option(50, help="how many, newest first"), as_json: bool = AS_JSON,
                  db: str | None = DB) -> None:
    """The commands sent, newest first, with their states."""
    items = run_service(settings_for(db), lambda p: p.remote_commands.list(limit=limit))
    if as_json:
        print(json.dumps(items, indent=2))
        return
    if not items:
        out.print("no commands sent yet: `evroam commands start ...`")
        return
    table = Table("id", "command", "partner", "where", "token", "state", "session", "requested")
    for r in items:
        where = "/".join(x for x in (r["country_code"], r["party_id"], r.get("location_id") or "",
                                     r.get("evse_uid") or "") if x)
        table.add_row(r["id"], r["command"], r["partner"] or "-", where, r.get("token_uid") or "-", r["state"],
                      r.get("session_id") or "-", r["requested_at"])
    out.print(table)

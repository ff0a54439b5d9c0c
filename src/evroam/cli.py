"""The `evroam` command. Every command works on the database of the folder it runs in
(./evroam.db), or on --db / EVROAM_DATABASE_URL, so it can be used beside a running server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TypeVar

import typer
from rich.table import Table

from evroam import logs
from evroam.cli_support import DB, fail, out, read_json_file, run_service, settings_for

T = TypeVar("T")
app = typer.Typer(help="evroam: EV-charging platform (OCPI roaming, OCPP central system).", no_args_is_help=True,
                  pretty_exceptions_enable=False)
partners_app = typer.Typer(help="Roaming partners: invite, register, list, sync.", no_args_is_help=True)
locations_app = typer.Typer(help="Our locations (OCPI JSON in the model's form, see docs/partners.md).",
                            no_args_is_help=True)
tariffs_app = typer.Typer(help="Our tariffs (OCPI JSON in the model's form, see docs/tariffs.md).",
                          no_args_is_help=True)
app.add_typer(partners_app, name="partners")
app.add_typer(locations_app, name="locations")
app.add_typer(tariffs_app, name="tariffs")
try:
    from evroam.cli_tariff import app as tariff_app

    app.add_typer(tariff_app, name="tariff", help="Price sessions with the tariff engine: price, estimate, lint.")
except ImportError:  # pragma: no cover - the tariff engine is part of the package
    pass

# ------------------------------------------------------------------ serve


@app.command()
def serve(
    db: str | None = DB,
    host: str | None = typer.Option(None, help="listen address (EVROAM_HOST, default 127.0.0.1)"),
    http_port: int | None = typer.Option(None, help="OCPI, admin API and UI port (EVROAM_HTTP_PORT, default 8080)"),
    ocpp_port: int | None = typer.Option(None, help="OCPP WebSocket port (EVROAM_OCPP_PORT, default 9000)"),
    ocpp_tls_cert: str | None = typer.Option(None, help="PEM certificate: OCPP over wss:// (security profile 2)"),
    ocpp_tls_key: str | None = typer.Option(None, help="PEM private key of --ocpp-tls-cert"),
    ocpp_client_ca: str | None = typer.Option(None, help="PEM CA of charger certificates (mutual TLS, profile 3)"),
    public_url: str | None = typer.Option(None, help="base URL partners use to reach us (EVROAM_PUBLIC_URL)"),
    demo_data: bool = typer.Option(False, "--demo-data", help="load demo locations and tariffs into an empty database"),
    workers: int = typer.Option(1, "--workers", help="run N nodes on this machine sharing the ports (needs "
                                "EVROAM_REDIS_URL; PostgreSQL recommended)"),
    reuse_port: bool = typer.Option(False, "--reuse-port", hidden=True, help="(a node started by --workers)"),
) -> None:
    """Serve OCPI (versions at /ocpi/versions), the admin API and /health."""
    from evroam import workers as node_workers
    from evroam.app import run as run_loop
    from evroam.app import serve as run

    settings = settings_for(db, host=host, http_port=http_port, ocpp_port=ocpp_port, public_url=public_url,
                            ocpp_tls_cert=ocpp_tls_cert, ocpp_tls_key=ocpp_tls_key, ocpp_client_ca=ocpp_client_ca)
    logs.configure(settings.log_level)  # (libraries that would log secrets at DEBUG kept at INFO)
    if (problem := node_workers.check(settings, workers)) is not None:
        fail(problem)
    if workers > 1:
        if settings.database_url.startswith("sqlite"):
            out.print("[yellow]warning:[/] several nodes on one SQLite file take turns writing; use PostgreSQL "
                      "(--db postgresql+asyncpg://...) for real load")
        if demo_data:
            from evroam.demo import load_demo

            run_service(settings, load_demo)  # once, before the nodes start
        argv = [a for a in sys.argv[2:] if a != "--demo-data"]
        argv = _without_option(argv, "--workers")
        out.print(f"[bold green]evroam[/] {workers} nodes on {settings.database_url}, sharing HTTP "
                  f"{settings.http_port} and OCPP {settings.ocpp_port}")
        raise typer.Exit(node_workers.run(argv, settings, workers))
    out.print(f"[bold green]evroam[/] {settings.country_code}/{settings.party_id} ({', '.join(settings.roles)}) "
              f"on {settings.database_url}")
    out.print(f"  OCPI versions  {settings.versions_url}")
    out.print(f"  API docs       {settings.base_url}/docs")
    out.print(f"  health         {settings.base_url}/health")
    out.print("  admin API      /admin/api (bearer token: `evroam admin-token`)")
    out.print(f"  back office    {settings.base_url}/ (accounts: `evroam users add NAME --role admin --password-stdin`)")
    if "CPO" in settings.roles:
        scheme = "wss" if settings.ocpp_tls_cert else "ws"
        out.print(f"  OCPP           {scheme}://{settings.host}:{settings.ocpp_port}/ocpp/{{charge_point_id}}")
    try:
        run_loop(run(settings, demo_data=demo_data, reuse_port=reuse_port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"cannot serve on {settings.host} (HTTP {settings.http_port}, OCPP {settings.ocpp_port}): {exc} "
             "(choose another --http-port / --ocpp-port?)")


def _without_option(argv: list[str], name: str) -> list[str]:
    """`argv` without `name VALUE` / `name=VALUE`."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept


@app.command("admin-token")
def admin_token(db: str | None = DB) -> None:
    """Print the admin API's bearer token."""
    from evroam.backoffice.auth import ensure_admin_token

    print(ensure_admin_token(settings_for(db)))


# ------------------------------------------------------------------ partners


@partners_app.command("invite")
def partners_invite(
    name: str = typer.Argument(..., help="a name for the partner, used in other commands"),
    token: str | None = typer.Option(None, help="use this token A instead of a generated one"),
    as_json: bool = typer.Option(False, "--json", help="print {token, versions_url} as JSON"),
    db: str | None = DB,
) -> None:
    """Create a registration token (token A) for a partner who will register with us."""
    from evroam.ocpi.credentials import handshake

    settings = settings_for(db)
    _partner, token_a = run_service(settings, lambda p: handshake.invite(p, name, token))
    if as_json:
        print(json.dumps({"token": token_a, "versions_url": settings.versions_url}))
    else:
        out.print(f"Give partner [bold]{name}[/] these two values:")
        out.print(f"  versions URL  {settings.versions_url}")
        out.print(f"  token A       {token_a}")


@partners_app.command("register")
def partners_register(
    versions_url: str = typer.Option(..., "--versions-url", help="the partner's OCPI versions URL"),
    token: str = typer.Option(..., "--token", help="the token A the partner gave us"),
    name: str | None = typer.Option(None, help="a name for the partner (default: its host)"),
    version: str | None = typer.Option(None, "--version",
                                       help="the OCPI version to register on (default: the highest both speak)"),
    db: str | None = DB,
) -> None:
    """Register with a partner (we start the handshake) on the highest OCPI version both sides
    speak, or on --version. Our server must be running: the partner calls our versions endpoint
    back during registration."""
    from urllib.parse import urlparse

    from evroam.ocpi.credentials import handshake

    settings = settings_for(db)
    name = name or urlparse(versions_url).netloc or versions_url
    async def work(p):
        partner = await handshake.register_with(p, name, versions_url, token, version)
        await p.bus.drain()  # the first pull of a CPO partner's data runs right after registering
        async with p.store.connect() as conn:
            counts = {
                "locations": await p.store.locations.count(conn, owners=partner.parties("CPO")),
                "tariffs": await p.store.tariffs.count(conn, owners=partner.parties("CPO")),
            }
        return partner, counts

    partner, counts = run_service(settings, work)
    out.print(f"[green]registered[/] with {partner.name}: OCPI {partner.version}, {partner.display_parties}")
    if partner.has_role("CPO") and "EMSP" in settings.roles:
        out.print(f"pulled {counts['locations']} locations and {counts['tariffs']} tariffs")


@partners_app.command("list")
def partners_list(db: str | None = DB, as_json: bool = typer.Option(False, "--json")) -> None:
    """Each partner: parties and roles, OCPI version, endpoints, status and pushes waiting."""

    from evroam.backoffice.api import partner_views

    async def work(p):
        async with p.store.connect() as conn:
            return await p.store.partners.list(conn), await partner_views(p)

    items, views = run_service(settings_for(db), work)
    if as_json:
        print(json.dumps(views, indent=2))
        return
    if not items:
        out.print("no partners yet: `evroam partners invite NAME` or `evroam partners register ...`")
        return
    table = Table("name", "status", "parties (role)", "version", "endpoints", "outbox", "last error")
    for x, view in zip(items, views, strict=True):
        eps = ", ".join(sorted({f"{e['identifier']}" + (f":{e['role'][0]}" if e.get("role") else "") for e in x.endpoints}))
        outbox = " ".join(f"{k}={v}" for k, v in sorted(view["outbox"].items())) or "-"
        parties = x.display_parties
        if view.get("hub_parties"):
            parties += "; via hub: " + ", ".join(
                f"{e['country_code']}/{e['party_id']} {e['role']} {e['status']}"
                + (f" (refused: {e['refused']})" if e.get("refused") else "") for e in view["hub_parties"])
        table.add_row(x.name, x.status.value, parties, x.version or "-", eps or "-", outbox, (x.last_error or "")[:60])
    out.print(table)
    for view in views:
        for refused in view.get("tariffs_not_sent") or ():
            out.print(f"[yellow]not sent[/] to {view['name']} (OCPI {view['version']}): tariff {refused['id']}: "
                      + "; ".join(refused["reasons"]))


def _partner(p, name: str):
    async def get():
        async with p.store.connect() as conn:
            partner = await p.store.partners.by_name(conn, name)
        if partner is None:
            raise ValueError(f"no partner named {name!r} (see `evroam partners list`)")
        return partner

    return get()


@partners_app.command("sync")
def partners_sync(name: str, full: bool = typer.Option(False, help="pull everything, not only changes"),
                  db: str | None = DB) -> None:
    """Pull a CPO partner's locations and tariffs (following every page)."""
    from evroam.ocpi import sync

    async def work(p):
        partner = await _partner(p, name)
        with out.status(f"pulling from {name}...") as status:
            return await sync.pull(p, partner, full=full,
                                   progress=lambda m, n: status.update(f"pulling {m} from {name}: {n}"))

    counts = run_service(settings_for(db), work)
    out.print(f"[green]synced[/] {name}: " + ", ".join(f"{n} {m}" for m, n in counts.items()))


@partners_app.command("rotate")
def partners_rotate(name: str, version: str | None = typer.Option(
        None, "--version", help="move the partner to this OCPI version (default: the highest both speak)"),
        db: str | None = DB) -> None:
    """Exchange new credentials tokens with a registered partner and re-negotiate the version
    (a credentials PUT)."""
    from evroam.ocpi.credentials import handshake

    async def work(p):
        return await handshake.update_with(p, await _partner(p, name), version)

    partner = run_service(settings_for(db), work)
    out.print(f"[green]new tokens[/] exchanged with {partner.name} (OCPI {partner.version})")


@partners_app.command("unregister")
def partners_unregister(name: str, db: str | None = DB) -> None:
    """End the registration with a partner (DELETE of our credentials at the partner)."""
    from evroam.ocpi.credentials import handshake

    async def work(p):
        await handshake.unregister_with(p, await _partner(p, name))

    run_service(settings_for(db), work)
    out.print(f"unregistered {name}")


# ------------------------------------------------------------------ locations and tariffs


def _import(kind: str, file: Path, as_own: bool, db: str | None) -> None:
    data = read_json_file(file)

    async def work(p):
        service = p.locations if kind == "locations" else p.tariffs
        return await (service.import_locations if kind == "locations" else service.import_tariffs)(data, as_own=as_own)

    result = run_service(settings_for(db), work)
    out.print(f"[green]imported[/] {len(result.created)} new and {len(result.updated)} updated {kind} "
              f"from {file}")


@locations_app.command("import")
def locations_import(file: Path, as_own: bool = typer.Option(False, "--as-own", help="store them under our party"),
                     db: str | None = DB) -> None:
    """Import OCPI 2.2.1 Location JSON (one object or a list) as ours; pushed to partners."""
    _import("locations", file, as_own, db)


@locations_app.command("list")
def locations_list(db: str | None = DB) -> None:
    """Our locations with their EVSEs' status."""
    settings = settings_for(db)

    async def work(p):
        async with p.store.connect() as conn:
            return await p.store.locations.all(conn, owners=[(settings.country_code, settings.party_id)])

    table = Table("id", "name", "city", "EVSEs (uid: status)")
    for loc in run_service(settings, work):
        evses = ", ".join(f"{e['uid']}: {e['status']}" for e in loc.get("evses") or [])
        table.add_row(loc["id"], loc.get("name") or "", loc["city"], evses)
    out.print(table)


@locations_app.command("status")
def locations_status(location_id: str, evse_uid: str, status: str, db: str | None = DB) -> None:
    """Set an EVSE's status (e.g. AVAILABLE, OUTOFORDER); pushed to partners."""
    run_service(settings_for(db), lambda p: p.locations.set_evse_status(location_id, evse_uid, status.upper()))
    out.print(f"{location_id}/{evse_uid} is now {status.upper()}")


@tariffs_app.command("import")
def tariffs_import(file: Path, as_own: bool = typer.Option(False, "--as-own", help="store them under our party"),
                   db: str | None = DB) -> None:
    """Import OCPI 2.2.1 Tariff JSON (one object or a list) as ours; pushed to partners."""
    _import("tariffs", file, as_own, db)


@tariffs_app.command("list")
def tariffs_list(db: str | None = DB) -> None:
    """Our tariffs."""
    settings = settings_for(db)

    async def work(p):
        async with p.store.connect() as conn:
            return await p.store.tariffs.all(conn, owners=[(settings.country_code, settings.party_id)])

    table = Table("id", "currency", "type", "elements", "last updated")
    for t in run_service(settings, work):
        table.add_row(t["id"], t["currency"], t.get("type") or "-", str(len(t["elements"])), t.get("last_updated", ""))
    out.print(table)


def _install_charging_commands() -> None:
    from evroam import cli_chargers

    app.add_typer(cli_chargers.chargers_app, name="chargers")
    app.add_typer(cli_chargers.tokens_app, name="tokens")
    app.add_typer(cli_chargers.sessions_app, name="sessions")
    app.add_typer(cli_chargers.cdrs_app, name="cdrs")
    app.command("log")(cli_chargers.log_command)
    app.add_typer(__import__("evroam.cli_drivers").cli_drivers.drivers_app, name="drivers")  # + cdrs disputes
    app.add_typer(__import__("evroam.cli_sites").cli_sites.sites_app, name="sites")


_install_charging_commands()
app.add_typer(__import__("evroam.cli_public").cli_public.evses_app, name="evses")
app.add_typer(__import__("evroam.cli_public").cli_public.opendata_app, name="opendata")
app.add_typer(__import__("evroam.cli_public").cli_public.plans_app, name="plans")
app.add_typer(__import__("evroam.cli_public").cli_public.uptime_app, name="uptime")
app.add_typer(__import__("evroam.cli_public").cli_public.payments_app, name="payments")
app.add_typer(__import__("evroam.cli_commands").cli_commands.commands_app, name="commands")
app.add_typer(__import__("evroam.cli_terminals").cli_terminals.terminals_app, name="terminals")
app.command("demo")(__import__("evroam.cli_demo").cli_demo.demo)
app.add_typer(__import__("evroam.cli_users").cli_users.users_app, name="users")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

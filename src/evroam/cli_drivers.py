"""`evroam drivers ...` (our drivers: we are their eMSP) and `evroam cdrs disputes`."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from evroam.cli_chargers import cdrs_app
from evroam.cli_support import DB, out, run_service, settings_for

drivers_app = typer.Typer(help="Our drivers (we are their eMSP): contracts, tokens, API keys, invoices.",
                          no_args_is_help=True)

JSON = typer.Option(False, "--json", help="print JSON (for scripts)")


def _none_or(value: str | None) -> Any:
    """`none` clears a value in `drivers update`."""
    from evroam.services.drivers import UNSET

    if value is None:
        return UNSET
    return None if value.strip().lower() == "none" else value


def _print_driver(view: dict[str, Any], api_key: str | None = None) -> None:
    out.print(f"driver [bold]{view['name']}[/] ({view['id']}, {view['status']})  contract {view['contract_id']}")
    if view.get("email"):
        out.print(f"  e-mail        {view['email']}")
    if view.get("contract_end"):
        out.print(f"  contract end  {view['contract_end']}")
    if view.get("credit_limit") is not None:
        out.print(f"  credit limit  {view['credit_limit']} per month")
    if view.get("allowed_cpos"):
        out.print(f"  charges at    {', '.join(view['allowed_cpos'])} only")
    if view.get("spent_this_month"):
        s = view["spent_this_month"]
        out.print(f"  this month    {s['incl_vat']} {s['currency']}")
    for t in view.get("tokens", []):
        out.print(f"  token         {t['uid']} ({t['type']}, {t['whitelist']}, {'valid' if t['valid'] else 'blocked'})")
    if api_key:
        out.print(f"  API key       [bold]{api_key}[/]", soft_wrap=True)
        out.print(f"                (shown once; `evroam drivers key {view['name']}` makes a new one)")


@drivers_app.command("add")
def drivers_add(
    name: str = typer.Argument(..., help="the driver's name (unique)"),
    email: str | None = typer.Option(None, "--email"),
    token_uid: str | None = typer.Option(None, "--token-uid", help="a token to give the driver, e.g. an RFID card's uid"),
    token_type: str | None = typer.Option(None, "--token-type", help="RFID (default) or APP_USER"),
    contract_id: str | None = typer.Option(None, "--contract-id",
                                           help="eMA-ID of our party, e.g. NL-EVR-C12345678-A (default: generated)"),
    whitelist: str | None = typer.Option(None, "--whitelist", help="ALWAYS, ALLOWED (default), ALLOWED_OFFLINE, NEVER"),
    credit_limit: str | None = typer.Option(None, "--credit-limit", help="monthly limit incl. VAT, e.g. 100.00"),
    contract_end: str | None = typer.Option(None, "--contract-end", help="date or DateTime the contract ends"),
    allowed_cpo: list[str] | None = typer.Option(None, "--allowed-cpo", help="CC/PID of a CPO the driver may "
                                                                             "charge at (repeat; default: all)"),
    as_json: bool = JSON,
    db: str | None = DB,
) -> None:
    """Add a driver: contract id, an app token (and --token-uid), and an API key (shown once)."""
    made = run_service(settings_for(db), lambda p: p.drivers.add(
        name, email=email, contract_id=contract_id, token_uid=token_uid, token_type=token_type, whitelist=whitelist,
        credit_limit=credit_limit, contract_end=contract_end, allowed_cpos=allowed_cpo))
    if as_json:
        print(json.dumps(made.to_dict(), indent=2))
        return
    _print_driver(made.to_dict(), made.api_key)


@drivers_app.command("list")
def drivers_list(as_json: bool = JSON, db: str | None = DB) -> None:
    """Every driver."""
    drivers = run_service(settings_for(db), lambda p: p.drivers.list())
    if as_json:
        print(json.dumps([d.to_dict() for d in drivers], indent=2))
        return
    table = Table("name", "id", "status", "contract", "contract end", "credit limit", "CPOs")
    for d in drivers:
        v = d.to_dict()
        table.add_row(v["name"], v["id"], v["status"], v["contract_id"], v["contract_end"] or "-",
                      v["credit_limit"] or "-", ", ".join(v["allowed_cpos"]) or "all")
    out.print(table)


@drivers_app.command("show")
def drivers_show(name: str, as_json: bool = JSON, db: str | None = DB) -> None:
    """One driver: contract, tokens, spend this month."""

    async def work(p):
        return await p.drivers.view(await p.drivers.get(name))

    view = run_service(settings_for(db), work)
    if as_json:
        print(json.dumps(view, indent=2))
        return
    _print_driver(view)


@drivers_app.command("key")
def drivers_key(name: str, as_json: bool = JSON, db: str | None = DB) -> None:
    """Issue a new driver API key (the old one stops working); shown once."""
    key = run_service(settings_for(db), lambda p: p.drivers.new_key(name))
    if as_json:
        print(json.dumps({"driver": name, "api_key": key}))
        return
    out.print(f"new API key of {name} (shown once): [bold]{key}[/]", soft_wrap=True)


def _block(name: str, blocked: bool, token: str | None, token_type: str, db: str | None) -> None:
    if token is not None:
        t = run_service(settings_for(db), lambda p: p.drivers.set_token_enabled(name, token, token_type, not blocked))
        out.print(f"token {t['uid']} ({t['type']}) of {name}: {'valid' if t['valid'] else 'blocked'}")
        return
    d = run_service(settings_for(db), lambda p: p.drivers.set_blocked(name, blocked))
    out.print(f"driver {d.name}: {d.status.value} (tokens pushed to our CPO partners)")


@drivers_app.command("block")
def drivers_block(name: str, token: str | None = typer.Option(None, "--token", help="block only this token"),
                  token_type: str = typer.Option("RFID", "--token-type"), db: str | None = DB) -> None:
    """Block a driver (every token becomes invalid), or one of their tokens."""
    _block(name, True, token, token_type, db)


@drivers_app.command("unblock")
def drivers_unblock(name: str, token: str | None = typer.Option(None, "--token", help="unblock only this token"),
                    token_type: str = typer.Option("RFID", "--token-type"), db: str | None = DB) -> None:
    """Unblock a driver, or one of their tokens."""
    _block(name, False, token, token_type, db)


@drivers_app.command("update")
def drivers_update(
    name: str,
    email: str | None = typer.Option(None, "--email", help="new e-mail (`none` clears it)"),
    credit_limit: str | None = typer.Option(None, "--credit-limit", help="monthly limit (`none`: no limit)"),
    contract_end: str | None = typer.Option(None, "--contract-end", help="date or DateTime (`none`: open-ended)"),
    allowed_cpo: list[str] | None = typer.Option(None, "--allowed-cpo", help="CC/PID (repeat); replaces the list"),
    all_cpos: bool = typer.Option(False, "--all-cpos", help="may charge at every CPO again"),
    db: str | None = DB,
) -> None:
    """Change a driver's e-mail, credit limit, contract end or the CPOs they may charge at."""
    from evroam.services.drivers import UNSET

    cpos: Any = [] if all_cpos else (allowed_cpo if allowed_cpo else UNSET)

    async def work(p):
        d = await p.drivers.update(name, email=_none_or(email), credit_limit=_none_or(credit_limit),
                                   contract_end=_none_or(contract_end), allowed_cpos=cpos)
        return await p.drivers.view(d)

    _print_driver(run_service(settings_for(db), work))


@drivers_app.command("add-token")
def drivers_add_token(
    name: str, uid: str | None = typer.Argument(None, help="the token uid (default for APP_USER: generated)"),
    token_type: str = typer.Option("RFID", "--type", help="RFID or APP_USER"),
    whitelist: str | None = typer.Option(None, "--whitelist"), db: str | None = DB,
) -> None:
    """Give a driver another token (pushed to our CPO partners)."""
    t = run_service(settings_for(db), lambda p: p.drivers.add_token(name, uid, token_type, whitelist))
    out.print(f"token {t['uid']} ({t['type']}, {t['whitelist']}) for {name}")


@drivers_app.command("invoice")
def drivers_invoice(name: str, month: str = typer.Argument(..., help="YYYY-MM"),
                    as_csv: bool = typer.Option(False, "--csv", help="print CSV"), as_json: bool = JSON,
                    db: str | None = DB) -> None:
    """A driver's invoice of one month: a line per CDR with its VAT, totals per currency."""
    from evroam.services.invoices import to_csv

    async def work(p):
        driver = await p.drivers.get(name)
        await p.driver_records.catch_up()
        return await p.invoices.month(driver, month)

    invoice = run_service(settings_for(db), work)
    if as_json:
        print(json.dumps(invoice, indent=2))
        return
    if as_csv:
        print(to_csv(invoice), end="")
        return
    table = Table("ended", "CDR", "CPO", "location", "kWh", "excl. VAT", "VAT", "incl. VAT",
                  title=f"{invoice['driver']['name']} {month} ({invoice['time_zone']})")
    for ln in invoice["lines"]:
        table.add_row(ln["end_date_time"], ln["cdr_id"], ln["cpo"], ln["location"], ln["energy_kwh"],
                      f"{ln['excl_vat']} {ln['currency']}", ln["vat"], ln["incl_vat"])
    for t in invoice["totals"]:
        table.add_row("[bold]total[/]", f"{t['lines']} CDRs", "", "", t["energy_kwh"], f"{t['excl_vat']} {t['currency']}",
                      t["vat"], f"[bold]{t['incl_vat']}[/]")
    out.print(table)


@cdrs_app.command("disputes")
def cdrs_disputes(as_json: bool = JSON, show_all: bool = typer.Option(False, "--all", help="every check, not "
                                                                                         "only disputes"),
                  limit: int = typer.Option(200, "--limit"), db: str | None = DB) -> None:
    """CDRs from CPO partners whose price differs from our re-pricing (newest first)."""

    async def work(p):
        await p.reconciliation.check_pending()
        return await (p.reconciliation.checks(limit=limit) if show_all else p.reconciliation.disputes(limit=limit))

    items = run_service(settings_for(db), work)
    if as_json:
        from evroam.model.common import format_datetime

        print(json.dumps([{**c, "checked_at": format_datetime(c["checked_at"])} for c in items], indent=2))
        return
    if not items:
        out.print("no disputes" if not show_all else "no CDRs checked yet")
        return
    table = Table("CDR", "CPO", "status", "tariff", "charged", "ours", "difference", "detail")
    for c in items:
        charged = c["claimed_incl_vat"] or c["claimed_excl_vat"]
        ours = c["computed_incl_vat"] or c["computed_excl_vat"] or "-"
        table.add_row(c["cdr_id"], f"{c['country_code']}/{c['party_id']}", c["status"], c["tariff_id"] or "-",
                      f"{charged} {c['currency'] or ''}", ours, c["difference"] or "-", c["detail"] or "")
    out.print(table)


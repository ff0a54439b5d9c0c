"""`evroam terminals`: Payment Terminal Providers' terminals at our EVSEs (OCPI 2.3.0 payments
module): list them, assign our locations and EVSEs, ask the PTP to activate or deactivate one;
the payments made at them, their financial advice confirmations and our invoices. Changes reach
the PTP through the outbox (delivered by a running server)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from evroam.cli_support import DB, out, run_service, settings_for

terminals_app = typer.Typer(help="Payment terminals of Payment Terminal Providers (the OCPI payments module).",
                            no_args_is_help=True)


def _print(view: dict, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(view))
        return
    out.print(f"terminal {view['terminal_id'] or '(not created yet)'} of {view['partner']} ({view['party']}): "
              f"{view['status']}; locations {', '.join(view['location_ids']) or '-'}; "
              f"EVSEs {', '.join(view['evse_uids']) or '-'}; invoices by {view['invoice_creator'] or '-'}")


@terminals_app.command("list")
def terminals_list(as_json: bool = typer.Option(False, "--json"), db: str | None = DB):
    """Every PTP's terminals, and the activations asked of them."""
    terminals = run_service(settings_for(db), lambda p: p.terminals.listing())
    if as_json:
        out.print_json(json.dumps(terminals))
        return
    table = Table("terminal", "PTP", "status", "reference", "locations", "EVSEs", "invoices by")
    for t in terminals:
        table.add_row(t["terminal_id"] or "-", f"{t['partner']} ({t['party']})", t["status"], t["reference"] or "-",
                      ", ".join(t["location_ids"]) or "-", ", ".join(t["evse_uids"]) or "-",
                      t["invoice_creator"] or "-")
    out.print(table)


@terminals_app.command("assign")
def terminals_assign(terminal_id: str,
                     location: list[str] = typer.Option(None, "--location", "-l",
                                                        help="one of our locations (repeat; replaces the locations)"),
                     evse: list[str] = typer.Option(None, "--evse", "-e",
                                                    help="one of our EVSE uids (repeat; replaces the EVSEs)"),
                     none: bool = typer.Option(False, "--none", help="assign nothing (the terminal takes no payment)"),
                     invoices: str = typer.Option(None, "--invoices",
                                                  help="CPO: we issue the invoices (at our invoice URL); PTP: it does"),
                     as_json: bool = typer.Option(False, "--json"), db: str | None = DB):
    """Assign our locations and EVSEs to a terminal: a PATCH to its PTP (a PUT of the Terminal with
    --invoices)."""
    locations = [] if none else (location or None)
    evses = [] if none else (evse or None)
    if locations is None and evses is None and invoices is None:
        raise typer.BadParameter("give --location, --evse, --none or --invoices")

    async def work(p):
        if locations is not None or evses is not None:
            view = await p.terminals.assign(terminal_id, location_ids=locations, evse_uids=evses)
        if invoices is not None:
            view = await p.terminals.assign(terminal_id, invoices=invoices)
        return view

    _print(run_service(settings_for(db), work), as_json)


@terminals_app.command("activate")
def terminals_activate(partner: str = typer.Argument(..., help="the PTP partner's name"),
                       reference: str = typer.Option(None, "--reference", help="the PTP's reference of the terminal, "
                                                     "e.g. the serial number of one built into a charger"),
                       terminal_id: str = typer.Option(None, "--terminal", help="a terminal it deactivated"),
                       location: list[str] = typer.Option(None, "--location", "-l", help="one of our locations"),
                       evse: list[str] = typer.Option(None, "--evse", "-e", help="one of our EVSE uids"),
                       address: str = typer.Option(None, "--address"), city: str = typer.Option(None, "--city"),
                       postal_code: str = typer.Option(None, "--postal-code"),
                       country: str = typer.Option(None, "--country", help="ISO 3166-1 alpha-3"),
                       as_json: bool = typer.Option(False, "--json"), db: str | None = DB):
    """Ask a PTP to activate a terminal (it then creates the Terminal here, with this assignment)."""
    details = {k: v for k, v in {"address": address, "city": city, "postal_code": postal_code,
                                 "country": country}.items() if v}
    view = run_service(settings_for(db), lambda p: p.terminals.activate(
        partner, reference=reference, terminal_id=terminal_id, location_ids=location or None,
        evse_uids=evse or None, details=details))
    _print(view, as_json)


@terminals_app.command("deactivate")
def terminals_deactivate(terminal_id: str, as_json: bool = typer.Option(False, "--json"), db: str | None = DB):
    """Ask the terminal's PTP to deactivate it (broken, moved); it takes no payment from now."""
    _print(run_service(settings_for(db), lambda p: p.terminals.deactivate(terminal_id)), as_json)


@terminals_app.command("payments")
def terminals_payments(limit: int = typer.Option(50, "--limit"), as_json: bool = typer.Option(False, "--json"),
                       db: str | None = DB):
    """Payments made at the terminals, newest first, with the outcome of their capture (FAC)."""
    payments = run_service(settings_for(db), lambda p: p.terminal_payments.listing(limit))
    if as_json:
        out.print_json(json.dumps(payments))
        return
    table = Table("authorization_reference", "PTP", "EVSE", "status", "session", "invoice", "captured", "checks")
    for pay in payments:
        facs = pay["financial_advice"]
        captured = ", ".join(f"{f['capture_status_code']} {f['total_costs'].get('incl_vat')} {f['currency']}"
                             for f in facs) or "-"
        checks = "; ".join(v for f in facs for v in f["checks"].values()) or "-"
        table.add_row(pay["authorization_reference"], pay["partner"] or "-", pay["evse_uid"], pay["status"],
                      pay["session_id"] or "-", pay["invoice_reference_id"] or "-", captured, checks)
    out.print(table)


@terminals_app.command("invoice")
def terminals_invoice(authorization_reference: str, db: str | None = DB):
    """Our invoice for a payment at a terminal (as JSON): the CDR with VAT, the EFT data of the capture."""
    out.print_json(json.dumps(run_service(settings_for(db),
                                          lambda p: p.terminal_payments.invoice(authorization_reference))))

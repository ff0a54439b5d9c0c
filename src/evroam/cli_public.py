"""`evroam evses qr`, `evroam opendata`: the QR codes of our EVSEs (printable sheets leading to
their public pages) and the consumers of the open data."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from evroam.cli_support import DB, fail, out, run_service, settings_for

evses_app = typer.Typer(help="Our EVSEs' QR codes (to their public pages: price, status, pay and charge).",
                        no_args_is_help=True)
opendata_app = typer.Typer(help="Open data: consumers' tokens, the DATEX II publications.", no_args_is_help=True)
consumers_app = typer.Typer(help="Consumers of the open data (when open_data_tokens is set).", no_args_is_help=True)
opendata_app.add_typer(consumers_app, name="consumers")


@evses_app.command("qr")
def qr(location_id: str = typer.Argument(..., help="one of our locations"),
       output: Path = typer.Option(None, "--out", "-o", help="file to write (default qr-LOCATION.pdf / .png)"),
       fmt: str = typer.Option("pdf", "--format", "-f", help="pdf (A4, vector) or png (A4, 300 dpi)"),
       db: str | None = DB):
    """A printable sheet of the location's EVSEs' QR codes, each leading to the EVSE's page."""
    from evroam.public import qr as qrcodes

    if fmt not in ("pdf", "png"):
        fail("--format: pdf or png")
    settings = settings_for(db)

    async def work(p):
        return await p.locations.get_own(location_id)

    loc = run_service(settings, work)
    evses = [e for e in loc.get("evses") or [] if e.get("status") != "REMOVED"]
    if not evses:
        fail(f"location {location_id!r} has no EVSE")
    if loc.get("publish") is not True:
        out.print(f"[yellow]warning:[/] location {location_id} is not published: its pages answer 404 until it is")
    labels = [qrcodes.Label(url=qrcodes.evse_url(settings, loc["id"], e["uid"]), title=e.get("evse_id") or e["uid"],
                            subtitle=", ".join(p for p in (loc.get("name"), loc.get("city")) if p))
              for e in evses]
    output = output or Path(f"qr-{loc['id']}.{fmt}")
    if fmt == "pdf":
        output.write_bytes(qrcodes.pdf(labels))
        written = [output]
    else:
        pages = qrcodes.png(labels)
        written = [output] if len(pages) == 1 else [output.with_name(f"{output.stem}-{i + 1}{output.suffix}")
                                                    for i in range(len(pages))]
        for path, page in zip(written, pages, strict=True):
            path.write_bytes(page)
    for path in written:
        out.print(f"{path}: {len(labels)} QR code(s)")
    for label in labels:
        out.print(f"  {label.title}  {label.url}")


@consumers_app.command("add")
def consumers_add(name: str, db: str | None = DB):
    """A consumer and its token (shown once)."""
    token = run_service(settings_for(db), lambda p: p.open_data.add_consumer(name))
    out.print(f"consumer {name}: token {token}")
    out.print("it sends: Authorization: Token <token>")


@consumers_app.command("list")
def consumers_list(db: str | None = DB):
    table = Table("name", "since")
    for c in run_service(settings_for(db), lambda p: p.open_data.consumers()):
        table.add_row(c.name, c.created_at.isoformat())
    out.print(table)


@consumers_app.command("remove")
def consumers_remove(name: str, db: str | None = DB):
    run_service(settings_for(db), lambda p: p.open_data.remove_consumer(name))
    out.print(f"consumer {name} removed")


@opendata_app.command("datex2")
def datex(kind: str = typer.Argument("table", help="table or status"),
          output: Path = typer.Option(None, "--out", "-o", help="file to write (default: standard output)"),
          db: str | None = DB):
    """Our DATEX II v3 AFIR publication (validated against the DATEX II schemas)."""
    from evroam.public import datex2
    from evroam.public.open_data import datex_documents

    if kind not in ("table", "status"):
        fail("table or status")

    async def work(p):
        table, status, _ = await datex_documents(p, table=kind == "table")
        return table if kind == "table" else status

    doc = run_service(settings_for(db), work)
    if doc is None:
        fail("no published location")
    datex2.validate(doc)
    data = datex2.to_bytes(doc)
    if output:
        output.write_bytes(data)
        out.print(f"{output}: valid DATEX II ({len(data)} bytes)")
    else:
        typer.echo(data.decode())


# ---------------------------------------------------------------------- subscription plans

plans_app = typer.Typer(help="Subscription plans of our drivers: monthly fee, included kWh, price per kWh or "
                        "discount, applied in the monthly invoice.", no_args_is_help=True)


@plans_app.command("add")
def plans_add(plan_id: str, name: str = typer.Option(None, "--name"),
              fee: str = typer.Option("0", "--fee", help="monthly fee excl. VAT"),
              vat: str = typer.Option("0", "--vat", help="VAT rate (percent) of the fee and the plan's kWh price"),
              included_kwh: str = typer.Option("0", "--included-kwh", help="kWh included each month"),
              price_per_kwh: str = typer.Option(None, "--price-per-kwh", help="the plan's price per kWh, excl. VAT"),
              discount: str = typer.Option(None, "--discount", help="percent off the CDRs' prices"),
              currency: str = typer.Option(None, "--currency"), db: str | None = DB):
    """Create or replace a plan."""
    body = {"id": plan_id, "name": name, "monthly_fee": fee, "vat_rate": vat, "included_kwh": included_kwh,
            "price_per_kwh": price_per_kwh, "discount_percent": discount, "currency": currency}
    plan, created = run_service(settings_for(db), lambda p: p.plans.put({k: v for k, v in body.items()
                                                                         if v is not None}))
    out.print(f"plan {plan.id} {'created' if created else 'replaced'}")


@plans_app.command("list")
def plans_list(as_json: bool = typer.Option(False, "--json"), db: str | None = DB):
    from evroam.services.subscriptions import plan_view

    plans = run_service(settings_for(db), lambda p: p.plans.list())
    if as_json:
        typer.echo(json.dumps([plan_view(p) for p in plans], indent=2))
        return
    table = Table("id", "name", "fee", "VAT %", "included kWh", "price/kWh", "discount %")
    for p in plans:
        table.add_row(p.id, p.name, f"{p.monthly_fee} {p.currency}", p.vat_rate, p.included_kwh,
                      p.price_per_kwh or "-", p.discount_percent or "-")
    out.print(table)


@plans_app.command("remove")
def plans_remove(plan_id: str, db: str | None = DB):
    run_service(settings_for(db), lambda p: p.plans.remove(plan_id))
    out.print(f"plan {plan_id} removed")


@plans_app.command("subscribe")
def plans_subscribe(driver: str, plan_id: str,
                    from_month: str = typer.Option(None, "--from", help="YYYY-MM (default: this month)"),
                    db: str | None = DB):
    """The driver has the plan from a month on (its previous plan ends then)."""

    async def work(p):
        d = await p.drivers.get(driver)
        return await p.plans.subscribe(d.pk, plan_id, from_month=from_month)

    done = run_service(settings_for(db), work)
    out.print(f"{driver}: plan {done['plan']} from {done['from']}")


@plans_app.command("unsubscribe")
def plans_unsubscribe(driver: str, from_month: str = typer.Option(None, "--from", help="YYYY-MM (default: this month)"),
                      db: str | None = DB):
    async def work(p):
        d = await p.drivers.get(driver)
        return await p.plans.unsubscribe(d.pk, from_month=from_month)

    done = run_service(settings_for(db), work)
    out.print(f"{driver}: no plan from {done['from']}")


@plans_app.command("show")
def plans_show(driver: str, db: str | None = DB):
    """A driver's plans, month by month."""

    async def work(p):
        d = await p.drivers.get(driver)
        return await p.plans.history(d.pk)

    for sub in run_service(settings_for(db), work):
        out.print(f"{sub['plan']}: from {sub['from']}" + (f" until {sub['until']}" if sub["until"] else ""))


# ---------------------------------------------------------------------- AFIR uptime

uptime_app = typer.Typer(help="AFIR uptime of our charging points (97 %), planned maintenance.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Planned maintenance of chargers (not counted against uptime).",
                              no_args_is_help=True)
uptime_app.add_typer(maintenance_app, name="maintenance")


@uptime_app.command("report")
def uptime_report(start: str = typer.Option(..., "--from", help="YYYY-MM-DD or a date-time (UTC)"),
                  end: str = typer.Option(..., "--to", help="YYYY-MM-DD or a date-time (UTC), excluded"),
                  as_csv: bool = typer.Option(False, "--csv", help="CSV: a row per EVSE, then per charger"),
                  output: Path = typer.Option(None, "--out", "-o", help="write the CSV to this file"),
                  db: str | None = DB):
    """Each charging point's uptime over a period, against AFIR's 97 %."""
    from evroam.services.uptime import parse_period, to_csv

    async def work(p):
        return await p.uptime.report(*parse_period(start, end))

    report = run_service(settings_for(db), work)
    if as_csv or output:
        text = to_csv(report)
        if output:
            output.write_text(text)
            out.print(f"{output}: {len(report['evses'])} charging points, {len(report['chargers'])} chargers")
        else:
            typer.echo(text, nl=False)
        return
    table = Table("charger", "EVSE", "in service h", "unavailable h", "faulted h", "offline h", "maintenance h",
                  "uptime %", "97 %", title=f"uptime {report['period_start']} - {report['period_end']}")
    for row in [*report["evses"], *report["chargers"]]:
        ok = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[row["meets_afir"]]
        table.add_row(row["charger_id"] or "-", row["evse_uid"] or "[bold]all[/]",
                      *(f"{row[k] / 3600:.1f}" for k in ("in_service_s", "unavailable_s", "faulted_s", "offline_s",
                                                          "maintenance_s")),
                      row["uptime_percent"] or "-", ok)
    out.print(table)


@maintenance_app.command("add")
def maintenance_add(charger_id: str, start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to"),
                    note: str = typer.Option(None, "--note"), db: str | None = DB):
    """Mark planned maintenance of a charger (date-times, e.g. 2025-03-01T06:00:00Z)."""
    w = run_service(settings_for(db), lambda p: p.uptime.add_maintenance(charger_id, start, end, note))
    out.print(f"maintenance {w['id']}: {charger_id} {w['from']} - {w['to']}")


@maintenance_app.command("list")
def maintenance_list(db: str | None = DB):
    table = Table("id", "charger", "from", "to", "note")
    for w in run_service(settings_for(db), lambda p: p.uptime.maintenance()):
        table.add_row(str(w["id"]), w["charger_id"], w["from"], w["to"], w["note"] or "")
    out.print(table)


@maintenance_app.command("remove")
def maintenance_remove(maintenance_id: int, db: str | None = DB):
    run_service(settings_for(db), lambda p: p.uptime.remove_maintenance(maintenance_id))
    out.print(f"maintenance {maintenance_id} removed")


# ---------------------------------------------------------------------- ad-hoc payments

payments_app = typer.Typer(help="Ad-hoc card payments at our EVSEs.", no_args_is_help=True)


@payments_app.command("list")
def payments_list(limit: int = typer.Option(50, "--limit"), db: str | None = DB):
    from evroam.services.money import from_minor

    table = Table("id", "EVSE", "status", "held", "captured", "session", "message")
    for pay in run_service(settings_for(db), lambda p: p.adhoc.payments(limit)):
        table.add_row(pay.id, pay.data.get("evse_id") or pay.evse_uid, pay.status,
                      f"{from_minor(pay.hold_minor, pay.currency)} {pay.currency}",
                      str(from_minor(pay.captured_minor, pay.currency)) if pay.captured_minor is not None else "-",
                      pay.session_id or "-", (pay.message or "")[:60])
    out.print(table)

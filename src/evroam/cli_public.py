"""`evroam evses qr`, `evroam opendata`: the QR codes of our EVSEs (printable sheets leading to
their public pages) and the consumers of the open data."""

from __future__ import annotations

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

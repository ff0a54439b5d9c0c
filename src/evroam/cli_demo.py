"""`evroam demo`: a CPO and an eMSP started side by side, registered over OCPI, a simulated
charger, and a driver's journey through the eMSP's driver API, every step checked (see
evroam/demo/journey.py). Exit code 0 only when every step checked out."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import typer
from rich.table import Table

from evroam.cli_support import fail, out


def demo(
    folder: Path | None = typer.Option(None, "--dir", help="an empty folder for the two instances (kept); "
                                       "default: a new temporary folder, removed after a successful run"),
    keep: bool = typer.Option(False, "--keep", help="keep the temporary folder (databases, configs, server logs)"),
    pace: float = typer.Option(0.5, min=0, help="real seconds between the charger's meter values"),
) -> None:
    """Run a CPO and an eMSP (two `evroam serve` processes with their own databases and ports),
    register them over OCPI, connect a simulated OCPP charger and drive a charging session from a
    driver's app: find a charger, price estimate, remote start, charging, stop, CDR, invoice."""
    from evroam.demo.journey import Check, Journey

    temporary = folder is None
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="evroam-demo-"))
    elif folder.exists() and any(folder.iterdir()):
        fail(f"--dir {folder}: not empty (the demo starts from an empty folder)")
    folder = folder.resolve()
    out.print(f"[bold]evroam demo[/] in {folder}")
    started = time.monotonic()

    with out.status("starting...") as status:
        def report(check: Check) -> None:
            mark = "[green]✔[/]" if check.ok else "[red]✘[/]"
            out.print(f"{mark} {check.step:<20} {check.detail}  [dim]({check.seconds:.1f}s)[/]", highlight=False)

        journey = Journey(folder, pace=pace, report=report, progress=lambda step: status.update(f"{step}..."))
        try:
            checks = asyncio.run(journey.run())
        except KeyboardInterrupt:
            out.print("[red]interrupted[/]")
            raise typer.Exit(130) from None

    table = Table("step", "result", "checked", "time", title="evroam demo: summary")
    for check in checks:
        table.add_row(check.step, "[green]ok[/]" if check.ok else "[red]FAILED[/]", check.detail,
                      f"{check.seconds:.1f}s")
    out.print(table)
    ok = len(checks) == 12 and all(c.ok for c in checks)
    elapsed = time.monotonic() - started
    if ok:
        out.print(f"[bold green]demo passed[/]: {len(checks)} of {len(checks)} steps checked out in {elapsed:.0f}s")
        if temporary and not keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            out.print(f"the two instances' databases, configs and logs are in {folder}")
        return
    failed = next((c for c in checks if not c.ok), None)
    out.print(f"[bold red]demo failed[/] at {failed.step if failed else 'start'}; "
              f"databases and server logs kept in {folder}")
    raise typer.Exit(1)

"""`evroam tariff price|estimate|lint`: the tariff engine from the command line."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table

from evroam.tariffs import (
    CompiledTariff,
    InputError,
    PricingError,
    Rounding,
    estimate,
    explain,
    lint_tariff,
    parse_case,
    parse_tariff,
    price_session,
    result_dict,
)
from evroam.tariffs.explain import Explanation
from evroam.tariffs.lint import WARNING, LintMessage

app = typer.Typer(
    help="Price sessions with OCPI tariffs, estimate a charge, check tariffs.", no_args_is_help=True
)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _load_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"{path}: {exc.strerror or exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")


def _dump(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def _fmt(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "-"
    q = value.quantize(Decimal(1).scaleb(-places))
    text = f"{q:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_SHORT = {"PARKING_TIME": "PARKING"}


def render_explanation(exp: Explanation, console: Console | None = None) -> None:
    """Print an explanation as a rich table with the totals underneath."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=120)
    tz = ZoneInfo(exp.time_zone)
    rounding = exp.result.rounding if exp.result is not None else Rounding()

    def money(v: Decimal | None) -> str:
        if v is None:
            return "?"
        text = f"{rounding.money(v):f}"
        if "." in text:
            whole, frac = text.split(".")
            frac = frac.rstrip("0").ljust(2, "0")
            text = f"{whole}.{frac}"
        return text

    table = Table(title=f"tariff {exp.tariff_id or '-'} · {exp.currency} · local time {exp.time_zone}")
    for col, justify in (
        ("#", "right"),
        ("local time", "left"),
        ("dimension", "left"),
        ("el.comp", "left"),
        ("volume", "right"),
        ("price", "right"),
        ("VAT %", "right"),
        ("excl VAT", "right"),
        ("incl VAT", "right"),
        ("note", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=col != "note")  # type: ignore[arg-type]
    multi_day = len({r.start.astimezone(tz).date() for r in exp.rows if r.start}) > 1
    fmt_time = "%a %m-%d %H:%M" if multi_day else "%H:%M"
    for row in exp.rows:
        if row.start and row.end:
            when = f"{row.start.astimezone(tz).strftime(fmt_time)}-{row.end.astimezone(tz).strftime('%H:%M')}"
        else:
            when = "reservation" if row.kind.startswith("reservation") else "session"
        number = str(row.period) if row.period is not None else ""
        ec = f"{row.element}.{row.component}" if row.element is not None else "-"
        places = 3 if row.unit == "kWh" else 4
        table.add_row(
            number,
            when,
            _SHORT.get(row.dimension, row.dimension),
            ec,
            f"{_fmt(row.volume, places)} {row.unit}",
            _fmt(row.unit_price) if row.unit_price is not None else "-",
            _fmt(row.vat, 2) if row.vat is not None else "-",
            money(row.cost.excl_vat),
            money(row.cost.incl_vat),
            row.note,
        )
    console.print(table)
    sub, tot = exp.subtotal, exp.total
    if exp.adjustments:
        console.print(
            f"subtotal: {money(sub.excl_vat)} excl VAT, {money(sub.incl_vat)} incl VAT {exp.currency}"
        )
        for line in exp.adjustments:
            console.print(f"  {line}")
    console.print(
        f"[bold]total: {money(tot.excl_vat)} excl VAT, {money(tot.incl_vat)} incl VAT {exp.currency}[/bold]"
    )
    times = f"energy {_fmt(exp.total_energy_kwh, 6)} kWh"
    if exp.total_time_h is not None:
        times += f", time {_fmt(exp.total_time_h, 6)} h, parking {_fmt(exp.total_parking_time_h, 6)} h"
    console.print(times)
    for w in exp.warnings:
        console.print(f"[yellow]warning: {w}[/yellow]")


@app.command()
def price(
    case: str = typer.Argument(..., help="Case JSON (tariff, location_time_zone, session); - for stdin."),
    explain_: bool = typer.Option(
        False, "--explain", help="Show a table per charging period and the totals."
    ),
    as_json: bool = typer.Option(False, "--json", help="With --explain: print the explanation as JSON."),
    decimals: int = typer.Option(4, "--decimals", min=0, max=10, help="Decimals of reported money."),
) -> None:
    """Price a session: print the result JSON (total_cost, totals, charging_periods)."""
    data = _load_json(case)
    rounding = Rounding(decimals=decimals)
    try:
        tariff, tz, session = parse_case(data)
        ct = CompiledTariff(tariff, tz)
        result = price_session(ct, session, rounding=rounding)
    except InputError as exc:
        _fail(str(exc))
    except PricingError as exc:
        _fail(f"session: {exc}")
    if explain_:
        exp = explain(ct, result)
        if as_json:
            _dump(exp.to_dict())
        else:
            render_explanation(exp)
        return
    _dump(result_dict(ct, result))


def _parse_start(value: str, tz: str) -> datetime:
    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--start: {value!r} is not a date and time such as 2024-05-06T18:00")
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(tz))
    return start


@app.command("estimate")
def estimate_cmd(
    tariff: str = typer.Option(
        ..., "--tariff", help="Tariff JSON (or a case file with a tariff); - for stdin."
    ),
    kwh: float = typer.Option(..., "--kwh", help="Energy to charge, kWh."),
    power_kw: float = typer.Option(..., "--power-kw", help="Charging power, kW."),
    start: str = typer.Option(
        ..., "--start", help="Start, local time in --tz (e.g. 2024-05-06T18:00) or with offset."
    ),
    tz: str = typer.Option(..., "--tz", help="Location time zone, e.g. Europe/Amsterdam."),
    parking_minutes: float = typer.Option(0, "--parking-minutes", help="Minutes plugged in after charging."),
    current_a: float | None = typer.Option(
        None, "--current-a", help="Current summed over phases (default P/230 V)."
    ),
    explain_: bool = typer.Option(False, "--explain", help="Show the per-period table."),
    decimals: int = typer.Option(4, "--decimals", min=0, max=10),
) -> None:
    """What will a charge cost: synthesise the session from kWh and power and price it."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(f"--tz: unknown time zone {tz!r}")
    data = _load_json(tariff)
    if isinstance(data, dict) and "elements" not in data and isinstance(data.get("tariff"), dict):
        data = data["tariff"]
    try:
        model = parse_tariff(data)
    except InputError as exc:
        _fail(f"tariff.{exc}" if not str(exc).startswith("(body)") else f"tariff: {exc}")
    begin = _parse_start(start, tz)
    try:
        est = estimate(
            model,
            kwh=kwh,
            power_kw=power_kw,
            start=begin,
            time_zone=tz,
            parking_minutes=parking_minutes,
            current_a=current_a,
            rounding=Rounding(decimals=decimals),
        )
    except ValueError as exc:
        _fail(f"--{str(exc).replace('_', '-')}")
    if explain_:
        render_explanation(est.explanation)
    else:
        _dump(est.to_dict())


@app.command()
def lint(
    tariff: str = typer.Argument(..., help="Tariff JSON (or a case file with a tariff); - for stdin."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero on warnings too."),
    as_json: bool = typer.Option(False, "--json", help="Print the messages as JSON."),
) -> None:
    """Check a tariff: invalid fields, elements that can never apply or are shadowed, and the OCPI
    versions it cannot be sent in without a wrong price (partners of those versions are not sent it)."""
    data = _load_json(tariff)
    msgs = lint_tariff(data)
    if not any(m.severity == "error" for m in msgs):
        msgs += _version_messages(data)
    errors = sum(1 for m in msgs if m.severity == "error")
    warnings = sum(1 for m in msgs if m.severity == "warning")
    if as_json:
        _dump({"errors": errors, "warnings": warnings, "messages": [m.to_dict() for m in msgs]})
    else:
        for m in msgs:
            typer.echo(str(m), err=m.severity == "error")
        typer.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors or (strict and warnings):
        raise typer.Exit(1)


def _version_messages(data: Any) -> list[LintMessage]:
    """A warning per OCPI version that cannot say the tariff (see ocpi/registry.py)."""
    from evroam.model.tariffs import Tariff
    from evroam.ocpi import registry
    from evroam.tariffs.case import normalise_tariff

    if isinstance(data, dict) and "elements" not in data and isinstance(data.get("tariff"), dict):
        data = data["tariff"]
    tariff = Tariff.model_validate(normalise_tariff(data)).to_dict()
    msgs = []
    for version in registry.SUPPORTED_VERSIONS:
        for refused in registry.refused_tariffs(version, [tariff]):
            msgs.append(LintMessage(WARNING, "tariff", f"not sent to OCPI {version} partners: "
                                    + "; ".join(refused["reasons"])))
    return msgs


if __name__ == "__main__":
    app()

"""What every `evroam` command shares: the --db option, one-line errors, settings, and running
a use case on a migrated database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from evroam.settings import Settings, load_settings

T = TypeVar("T")

out = Console()
err = Console(stderr=True)
DB = typer.Option(None, "--db", help="database URL (default: EVROAM_DATABASE_URL or sqlite ./evroam.db)")


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_for(db: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(database_url=db, **overrides)
    except Exception as exc:
        fail(f"invalid settings: {exc}")
        raise


def with_platform(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(platform)` on a migrated database, then close everything."""
    from evroam.app import Platform

    async def main() -> T:
        platform = Platform(settings)
        try:
            await platform.start()
            return await work(platform)
        finally:
            await platform.close()

    return asyncio.run(main())


def run_service(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """with_platform, turning the use cases' errors into one-line messages."""
    from evroam.services.errors import ServiceError

    try:
        return with_platform(settings, work)
    except ServiceError as exc:
        fail(exc.message)
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except json.JSONDecodeError as exc:
        fail(f"{path}: not valid JSON ({exc})")

"""`evroam users`: the operators' accounts of the back office in the browser."""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from evroam.cli_support import DB, fail, out, run_service, settings_for

users_app = typer.Typer(help="Accounts of the back office (web UI at /): add, list, remove, passwd, role.",
                        no_args_is_help=True)
ROLE = typer.Option(..., "--role", help="admin (everything), operator (runs the network) or viewer (sees only)")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="read the password from standard input (its first "
                              "line) instead of asking for it")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            fail("no password on standard input")
        return password
    if not sys.stdin.isatty():
        fail("give the password on standard input with --password-stdin")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Password again", hide_input=True) != first:
        fail("the two passwords differ")
    return first


@users_app.command("add")
def users_add(name: str = typer.Argument(..., help="the user name to sign in with"), role: str = ROLE,
              password_stdin: bool = PASSWORD_STDIN, db: str | None = DB) -> None:
    """Add an account."""
    password = _password(password_stdin)
    user = run_service(settings_for(db), lambda p: p.users.add(name, role.lower(), password))
    out.print(f"[green]added[/] {user.name} ({user.role})")


@users_app.command("list")
def users_list(db: str | None = DB, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every account, with its role and last sign-in."""
    users = run_service(settings_for(db), lambda p: p.users.list())
    if as_json:
        print(json.dumps([{"name": u.name, "role": u.role, "created_at": u.created_at.isoformat(),
                           "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None}
                          for u in users], indent=2))
        return
    if not users:
        out.print("no accounts yet: `evroam users add NAME --role admin --password-stdin`")
        return
    table = Table("name", "role", "created", "last sign-in")
    for u in users:
        table.add_row(u.name, u.role, u.created_at.strftime("%Y-%m-%d %H:%M"),
                      u.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if u.last_sign_in_at else "-")
    out.print(table)


@users_app.command("remove")
def users_remove(name: str, db: str | None = DB) -> None:
    """Remove an account (its browsers are signed out at once)."""
    run_service(settings_for(db), lambda p: p.users.remove(name))
    out.print(f"removed {name}")


@users_app.command("passwd")
def users_passwd(name: str, password_stdin: bool = PASSWORD_STDIN, db: str | None = DB) -> None:
    """Change an account's password (its browsers are signed out)."""
    password = _password(password_stdin)
    ended = run_service(settings_for(db), lambda p: p.users.set_password(name, password))
    out.print(f"[green]password changed[/] for {name}" + (f"; {ended} session(s) ended" if ended else ""))


@users_app.command("role")
def users_role(name: str, role: str = typer.Argument(..., help="admin, operator or viewer"), db: str | None = DB) -> None:
    """Change an account's role."""
    run_service(settings_for(db), lambda p: p.users.set_role(name, role.lower()))
    out.print(f"{name} is now {role.lower()}")

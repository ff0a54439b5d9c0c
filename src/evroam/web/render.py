"""Server-rendered pages: the Jinja2 environment of the back office, its filters, and the
responses every page shares (a page, a fragment for htmx, an error page)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

import evroam
from evroam.services.users import may_act

HERE = Path(__file__).resolve().parent
#: where the pages live (all back-office paths start with it) and where their assets are served
PREFIX = ""
ASSETS = "/backoffice-assets"

#: the navigation: (label, path); the labels are the pages' names
NAVIGATION = [("Overview", "/"), ("Map", "/map"), ("Chargers", "/chargers"), ("Sessions", "/sessions"),
              ("CDRs", "/cdrs"), ("Tariffs", "/tariffs"), ("Partners", "/partners"), ("Sites", "/sites"),
              ("Drivers", "/drivers"), ("Statistics", "/statistics"), ("Log", "/log")]

STATUS_CLASSES = {"AVAILABLE": "ok", "CHARGING": "busy", "RESERVED": "busy", "BLOCKED": "warn",
                  "INOPERATIVE": "warn", "OUTOFORDER": "bad", "UNKNOWN": "off", "REMOVED": "off",
                  "PLANNED": "off"}


def _missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined) or value == ""


def when(value: Any, seconds: bool = True) -> str:
    """A time as operators read it: UTC, to the second."""
    if _missing(value):
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    text = value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return text + " UTC"


def number(value: Any, places: int = 2) -> str:
    if _missing(value):
        return "–"
    return f"{float(value):,.{places}f}"


def money(value: Any, currency: str | None = None) -> str:
    if _missing(value):
        return "–"
    text = f"{Decimal(str(value)).quantize(Decimal('0.01')):,}"
    return f"{text} {currency}" if currency else text


def duration(seconds: Any) -> str:
    if _missing(seconds):
        return "–"
    seconds = int(float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def percent(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value) * 100:.2f} %"


def status_class(status: Any) -> str:
    return STATUS_CLASSES.get(str(status or "").upper(), "off")


def json_data(value: Any) -> Markup:
    """JSON for a `<script type="application/json">` block (no `<`, `>` or `&` that could end it)."""
    text = orjson.dumps(value, default=str).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def query(request: Request, **changes: Any) -> str:
    """The current query string with `changes` (None removes a parameter)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "svg"]),
                  trim_blocks=True, lstrip_blocks=True)
env.filters.update(when=when, number=number, money=money, duration=duration, percent=percent,
                   status_class=status_class, json_data=json_data)
env.globals.update(prefix=PREFIX, assets=ASSETS, navigation=NAVIGATION, evroam_version=evroam.__version__)


def render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page (or, for a template named `_*.html`, a fragment) for the signed-in user."""
    web = getattr(request.state, "web", None)
    user = web.user if web is not None else None
    context.setdefault("current", request.url.path)
    context.update(request=request, user=user, csrf=web.csrf if web is not None else "",
                   can_act=bool(user and may_act(user.role)), is_admin=bool(user and user.role == "admin"),
                   query=lambda **changes: query(request, **changes))
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    if request.headers.get("hx-request"):
        return render(request, "_result.html", status_code=status_code, ok=False, message=message)
    titles = {400: "Not done", 403: "Not allowed", 404: "Not found", 409: "Not done", 429: "Too many attempts",
              502: "The charger refused", 504: "No answer"}
    return render(request, "error.html", status_code=status_code, title=titles.get(status_code, "Error"),
                  message=message)


#: every page: no framing by other sites, no sniffing, only our own scripts and styles (tiles of a
#: configured map server as images)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https: http:; style-src 'self' "
                               "'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "Cache-Control": "no-store",
}

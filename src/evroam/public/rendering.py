"""The public pages' templates (`templates/`, Jinja2, HTML escaped) and the receipt's renderings."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")


def when(value: str | None) -> str:
    """An OCPI DateTime as people read it: 2025-03-01 08:54 UTC."""
    if not value:
        return ""
    from evroam.model.common import parse_datetime

    return parse_datetime(value).strftime("%Y-%m-%d %H:%M UTC")


@functools.cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_receipt(receipt: dict[str, Any], operator: str = "") -> tuple[str, str]:
    """(plain text, HTML) of a receipt, for the e-mail."""
    text = render("receipt.txt", r=receipt)
    html = render("receipt.html", r=receipt, operator=operator or receipt.get("issuer", ""), prefix="",
                  prefix_pay="", email_form=False)
    return text, html

"""Paging of the list endpoints: offset, limit, date_from (inclusive), date_to (exclusive);
Link rel="next" (absent on the last page, filters kept), X-Total-Count and X-Limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request

from evroam.model.common import format_datetime, parse_datetime
from evroam.ocpi.transport.errors import invalid


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None


def parse_page(request: Request, max_limit: int, *, require_date_from: bool = False) -> Page:
    q = request.query_params

    def integer(name: str, default: int) -> int:
        raw = q.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(f"{name}: expected a whole number, got {raw!r}") from None
        if value < 0:
            raise invalid(f"{name}: must not be negative")
        return value

    def date(name: str) -> datetime | None:
        raw = q.get(name)
        if raw is None or raw == "":
            return None
        try:
            return parse_datetime(raw)
        except ValueError as exc:
            raise invalid(f"{name}: {exc}") from None

    offset = integer("offset", 0)
    limit = min(integer("limit", max_limit), max_limit)
    if limit == 0:
        limit = max_limit
    date_from, date_to = date("date_from"), date("date_to")
    if require_date_from and date_from is None:
        raise invalid("date_from: required on this endpoint")
    return Page(offset=offset, limit=limit, date_from=date_from, date_to=date_to)


def paging_headers(page: Page, returned: int, total: int, base_url: str, max_limit: int) -> dict[str, str]:
    """base_url: the public URL of this endpoint without query."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(max_limit)}
    next_offset = page.offset + returned
    if returned and next_offset < total:
        params: dict[str, str] = {}
        if page.date_from is not None:
            params["date_from"] = format_datetime(page.date_from)
        if page.date_to is not None:
            params["date_to"] = format_datetime(page.date_to)
        # whole numbers need no quoting: the same as urlencode, without its cost per request
        query = f"offset={next_offset}&limit={page.limit}"
        headers["Link"] = f'<{base_url}?{urlencode(params) + "&" if params else ""}{query}>; rel="next"'
    return headers

"""Paging of the list endpoints: offset, limit, date_from (inclusive), date_to (exclusive);
Link rel="next" (absent on the last page, filters kept), X-Total-Count and X-Limit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request

from evroam.model.common import MAX_PAGING_VALUE, format_datetime, parse_datetime
from evroam.ocpi.transport.errors import invalid


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None


_WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)


def parse_page(request: Request, max_limit: int, *, require_date_from: bool = False) -> Page:
    """The paging parameters of a list request; OCPI 2001 (HTTP 400) for one that is not a
    whole number in plain ASCII digits, is negative or is beyond MAX_PAGING_VALUE, and for a
    date that is not an OCPI DateTime. An offset past the last object gives an empty page."""
    q = request.query_params

    def integer(name: str, default: int) -> int:
        raw = q.get(name)
        if raw is None or raw == "":
            return default
        if raw.startswith("-") and _WHOLE_NUMBER.fullmatch(raw[1:]):
            raise invalid(f"{name}: must not be negative")
        if not _WHOLE_NUMBER.fullmatch(raw):
            raise invalid(f"{name}: expected a whole number, got {raw[:40]!r}")
        digits = raw.lstrip("0") or "0"
        if len(digits) > len(str(MAX_PAGING_VALUE)) or int(digits) > MAX_PAGING_VALUE:
            raise invalid(f"{name}: too large (at most {MAX_PAGING_VALUE})")
        return int(digits)

    def date(name: str) -> datetime | None:
        raw = q.get(name)
        if raw is None or raw == "":
            return None
        try:
            return parse_datetime(raw)
        except (ValueError, OverflowError) as exc:
            raise invalid(f"{name}: {str(exc)[:200]}") from None

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

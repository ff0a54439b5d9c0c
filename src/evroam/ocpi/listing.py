"""The paged list answer shared by every sender interface: parse the paging parameters, fetch
one page, answer with the stored documents, paging headers and routing headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.ocpi.server import Caller, public_url, routing_headers
from evroam.ocpi.transport.envelope import raw_list_response
from evroam.ocpi.transport.paging import Page, paging_headers, parse_page

Fetch = Callable[[AsyncConnection, Page], Awaitable[tuple[list[Any], int]]]


async def paged_response(request: Request, caller: Caller | None, fetch: Fetch, *, require_date_from: bool = False):
    """`fetch(conn, page)` returns (stored JSON documents of the page, total number of matches).
    `caller` None: a request of no partner (open data), answered without routing headers."""
    platform = request.app.state.platform
    limit = platform.settings.ocpi_page_limit
    page = parse_page(request, limit, require_date_from=require_date_from)
    async with platform.store.connect() as conn:
        rows, total = await fetch(conn, page)
    headers = paging_headers(page, len(rows), total, public_url(request), limit)
    if caller is not None:
        headers.update(routing_headers(request, caller))
    return raw_list_response(rows, headers=headers)

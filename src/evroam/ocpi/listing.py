"""The paged list answer shared by every sender interface: parse the paging parameters, fetch
one page, answer with the stored documents in the request's version (mapped by its mapping;
documents a version's mapping leaves as they are are joined without parsing), paging headers and
routing headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.ocpi.server import Caller, public_url, routing_headers
from evroam.ocpi.transport.envelope import raw_list_response
from evroam.ocpi.transport.paging import Page, paging_headers, parse_page
from evroam.ocpi.wire import Wire

Fetch = Callable[[AsyncConnection, Page], Awaitable[tuple[list[Any], int]]]


async def paged_response(request: Request, caller: Caller | None, fetch: Fetch, kind: str, *,
                         require_date_from: bool = False, as_stored: bool = False):
    """`fetch(conn, page)` returns (stored JSON documents of the page as bytes, total number of
    matches). A document the version cannot say is left out of the page (the Link to the next
    page still follows the stored order). `as_stored`: the caller knows the version says the
    documents as they are stored. `caller` None: a request of no partner (open data), answered
    without routing headers."""
    platform = request.app.state.platform
    limit = platform.settings.ocpi_page_limit
    page = parse_page(request, limit, require_date_from=require_date_from)
    async with platform.store.connect() as conn:
        rows, total = await fetch(conn, page)
    wire = Wire.of(request)
    said = rows if as_stored else await wire.version.mapping.outbound_page(kind, rows, wire.ctx())
    headers = paging_headers(page, len(rows), total, public_url(request), limit)
    if caller is not None:
        headers.update(routing_headers(request, caller))
    return raw_list_response(said, headers=headers)

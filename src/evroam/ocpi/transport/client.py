"""The OCPI HTTP client used toward partners: token encoding (with fallback for peers that
expect the plain token), request/correlation ids, routing headers, envelope checks, paging."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from evroam.ocpi.transport import headers as h
from evroam.ocpi.transport.auth import BASE64, PLAIN, authorization_header
from evroam.ocpi.transport.errors import PartnerCallError

log = logging.getLogger(__name__)


@dataclass
class OcpiReply:
    http_status: int
    body: dict[str, Any]
    headers: httpx.Headers
    encoding: str  # the token encoding the partner accepted

    @property
    def data(self) -> Any:
        return self.body.get("data")


class OcpiClient:
    def __init__(self, http: httpx.AsyncClient, *, country_code: str, party_id: str) -> None:
        self.http = http
        self.country_code = country_code
        self.party_id = party_id

    async def call(self, method: str, url: str, *, token: str, encoding: str | None = None,
                   json: Any = None, params: dict[str, Any] | None = None, module: str | None = None,
                   to_party: tuple[str, str] | None = None, correlation_id: str | None = None,
                   prefer: str | None = None) -> OcpiReply:
        """One OCPI call. With `encoding=None` (not known yet) the token is sent the `prefer`red
        way (default Base64, as 2.2.1 says) and, if the partner answers 401, once more the
        other way."""
        if encoding:
            encodings = [encoding]
        else:
            encodings = [PLAIN, BASE64] if prefer == PLAIN else [BASE64, PLAIN]
        last: PartnerCallError | None = None
        for enc in encodings:
            try:
                return await self._call_once(method, url, token=token, encoding=enc, json=json, params=params,
                                             module=module, to_party=to_party, correlation_id=correlation_id)
            except PartnerCallError as exc:
                last = exc
                if exc.http_status != 401:
                    raise
        assert last is not None
        raise last

    async def _call_once(self, method, url, *, token, encoding, json, params, module, to_party,
                         correlation_id) -> OcpiReply:
        request_id = h.new_id()
        headers = {
            "Authorization": authorization_header(token, encoding),
            h.REQUEST_ID: request_id,
            h.CORRELATION_ID: correlation_id or request_id,
            "Accept": "application/json",
        }
        content = None
        if json is not None:
            content = json if isinstance(json, bytes) else orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        if module in h.FUNCTIONAL_MODULES:
            headers[h.FROM_COUNTRY] = self.country_code
            headers[h.FROM_PARTY] = self.party_id
            if to_party:
                headers[h.TO_COUNTRY], headers[h.TO_PARTY] = to_party
        try:
            response = await self.http.request(method, url, headers=headers, content=content, params=params)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: a URL httpx cannot even parse
            raise PartnerCallError(f"{method} {url}: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
        try:
            body = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            body = None
        where = f"{method} {url}"
        status = response.status_code
        if status >= 400:
            ocpi_code = body.get("status_code") if isinstance(body, dict) else None
            detail = body.get("status_message") if isinstance(body, dict) else response.text[:200]
            code_part = f", OCPI {ocpi_code}" if ocpi_code is not None else ""
            retryable = status >= 500 or status in (401, 408, 425, 429)
            raise PartnerCallError(f"{where}: HTTP {status}{code_part}: {detail or 'no message'}", http_status=status,
                                   ocpi_status=ocpi_code if isinstance(ocpi_code, int) else None, retryable=retryable)
        if not isinstance(body, dict) or "status_code" not in body:
            raise PartnerCallError(f"{where}: HTTP {status} without an OCPI envelope", http_status=status)
        code = body.get("status_code")
        if not isinstance(code, int) or not 1000 <= code < 2000:
            raise PartnerCallError(
                f"{where}: OCPI status {code} {body.get('status_message') or ''}".strip(),
                http_status=status, ocpi_status=code if isinstance(code, int) else None,
                retryable=not (isinstance(code, int) and 2000 <= code < 3000),
            )
        return OcpiReply(status, body, response.headers, encoding)

    async def pages(self, url: str, *, token: str, encoding: str | None, module: str | None,
                    params: dict[str, Any] | None = None,
                    to_party: tuple[str, str] | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a list endpoint. Link rel="next" is followed when it points at the same
        server; when a partner's Link is missing or unusable (another scheme or host) but
        X-Total-Count says more objects wait, the next page is asked for by offset, which every
        OCPI list endpoint must accept."""
        base_params = {k: v for k, v in (params or {}).items() if k not in ("offset",)}
        offset = int((params or {}).get("offset", 0))
        next_url: str | None = url
        next_params: dict[str, Any] | None = dict(params or {})
        seen: set[str] = set()
        while next_url:
            reply = await self.call("GET", next_url, token=token, encoding=encoding, params=next_params,
                                    module=module, to_party=to_party)
            encoding = reply.encoding
            data = reply.data or []
            if not isinstance(data, list):
                raise PartnerCallError(f"GET {next_url}: expected a list in data", retryable=False)
            yield data
            offset += len(data)
            link = _next_link(reply.headers.get("link"))
            if link and _same_origin(link, url) and link not in seen:
                seen.add(link)
                next_url, next_params = link, None
            elif data and offset < _total(reply.headers):
                next_url, next_params = url, {**base_params, "offset": offset}
            else:
                next_url = None


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


def _total(headers: httpx.Headers) -> int:
    try:
        return int(headers.get("x-total-count", ""))
    except ValueError:
        return 0


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        section = part.strip()
        if 'rel="next"' in section or "rel=next" in section:
            start, end = section.find("<"), section.find(">")
            if start != -1 and end > start:
                return section[start + 1 : end]
    return None

"""What every version's mapping shares: the kinds of objects mapped, the context a mapping may
need, and the Mapping that applies one version's object mappings.

A mapping turns a body of the version's wire format into the model's form (`inbound`) and a
stored document into the version's wire format (`outbound`). Objects that a version cannot say
(a tariff with a minimum price for a 2.1.1 partner, a Credit CDR for one that has no credits)
raise `CannotSay` with the reason: they are not sent rather than sent wrong.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson

# The kinds of objects mapped.
LOCATION, EVSE, CONNECTOR = "location", "evse", "connector"
LOCATION_PATCH, EVSE_PATCH, CONNECTOR_PATCH = "location_patch", "evse_patch", "connector_patch"
SESSION, SESSION_PATCH, CDR = "session", "session_patch", "cdr"
TARIFF, TARIFF_PATCH = "tariff", "tariff_patch"
TOKEN, TOKEN_PATCH = "token", "token_patch"
AUTHORIZATION_INFO, LOCATION_REFERENCES = "authorization_info", "location_references"
COMMAND, COMMAND_RESPONSE, COMMAND_RESULT = "command", "command_response", "command_result"
CREDENTIALS, VERSION_DETAILS = "credentials", "version_details"
# the payments module (2.3.0): a Terminal, a partial Terminal (PATCH), a FinancialAdviceConfirmation
TERMINAL, TERMINAL_PATCH, FINANCIAL_ADVICE = "terminal", "terminal_patch", "financial_advice_confirmation"
PAYMENTS_KINDS = (TERMINAL, TERMINAL_PATCH, FINANCIAL_ADVICE)


class CannotSay(Exception):
    """The object cannot be expressed in the partner's version without saying something wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Lookups(Protocol):
    """What a mapping may need to read besides the body (answers in the model's form)."""

    async def location(self, country_code: str, party_id: str, location_id: str) -> dict[str, Any] | None: ...

    async def tariff(self, country_code: str, party_id: str, tariff_id: str) -> dict[str, Any] | None: ...

    async def token_by_contract(self, contract_id: str) -> dict[str, Any] | None:
        """One of our tokens, by its contract id (a 2.1.1 `auth_id`)."""

    async def session(self, country_code: str, party_id: str, session_id: str) -> dict[str, Any] | None: ...


@dataclass
class Context:
    """owner: the party owning the object, when the body may not say (2.1.1 objects carry no
    country_code/party_id: it comes from the URL or the partner's credentials); us: our party;
    now: a DateTime for fields the version leaves out and the model needs; command: the
    CommandType of a command body; hints: further facts (e.g. the token an AuthorizationInfo
    answers about, our roles when reading a 2.1.1 partner's endpoints)."""

    owner: tuple[str, str] | None = None
    us: tuple[str, str] | None = None
    now: str | None = None
    lookups: Lookups | None = None
    command: str | None = None
    hints: dict[str, Any] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    async def cached(self, key: Any, load: Callable[[], Awaitable[Any]]) -> Any:
        """`load()` once per key for the life of this context (e.g. a tariff looked up for each
        connector of a page of locations)."""
        if key not in self._cache:
            self._cache[key] = await load()
        return self._cache[key]


Fn = Callable[[Any, Context], Any]
PushFn = Callable[[str, str, Any, "Context"], Awaitable[tuple[str, str, Any]]]


def same(value: Any, ctx: Context) -> Any:
    return value


class ObjectMapping(NamedTuple):
    inbound: Fn = same
    outbound: Fn = same


IDENTITY = ObjectMapping()


def unsaid(reason: str) -> ObjectMapping:
    """The mapping of an object a version does not have: it cannot be said either way."""

    def refuse(value: Any, ctx: Context) -> Any:
        raise CannotSay(reason)

    return ObjectMapping(refuse, refuse)


async def _call(fn: Fn, value: Any, ctx: Context) -> Any:
    result = fn(value, ctx)
    if inspect.isawaitable(result):
        result = await result
    return result


class Mapping:
    """One version's mappings. `objects`: kind -> ObjectMapping (a kind not listed passes
    unchanged both ways). `markers`: for kinds whose outbound mapping changes a document only
    when it carries one of these byte strings, stored documents without them are sent as they
    are (the list endpoints' fast path). `refusals`: kind -> function giving the reasons a
    document cannot be said in this version (empty: it can). `pushes`: kind -> how a push of
    that kind is sent when the version needs another request than ours. `token_types`: a token type of the
    version -> the model's types it says (see `token_types_of`)."""

    def __init__(self, version: str, objects: dict[str, ObjectMapping], *,
                 markers: dict[str, tuple[bytes, ...]] | None = None,
                 refusals: dict[str, Callable[[dict[str, Any]], list[str]]] | None = None,
                 token_types: dict[str, tuple[str, ...]] | None = None,
                 pushes: dict[str, PushFn] | None = None) -> None:
        self.version = version
        self.objects = objects
        self.markers = markers or {}
        self.refusals = refusals or {}
        self.token_types = token_types or {}
        self.pushes = pushes or {}

    async def inbound(self, kind: str, body: Any, ctx: Context | None = None) -> Any:
        found = self.objects.get(kind)
        if found is None or not isinstance(body, dict | list):
            return body  # not ours to map: the validation that follows names what is wrong
        return await _call(found.inbound, body, ctx or Context())

    async def outbound(self, kind: str, doc: Any, ctx: Context | None = None) -> Any:
        """The document in this version's form; CannotSay when it cannot be said."""
        found = self.objects.get(kind)
        if found is None or doc is None:
            return doc
        return await _call(found.outbound, doc, ctx or Context())

    async def outbound_raw(self, kind: str, raw: bytes | str, ctx: Context | None = None) -> bytes | None:
        """A stored document (JSON, UTF-8 bytes or str) as UTF-8 JSON bytes in this version's
        form; None when it cannot be said."""
        if isinstance(raw, str):
            raw = raw.encode()
        if kind not in self.objects:
            return raw
        markers = self.markers.get(kind)
        if markers is not None and not any(m in raw for m in markers):
            return raw
        try:
            return orjson.dumps(await self.outbound(kind, orjson.loads(raw), ctx))
        except CannotSay:
            return None

    async def push(self, kind: str | None, method: str, path: str, body: Any,
                   ctx: Context) -> tuple[str, str, Any]:
        """A push of ours (method, path below the partner's endpoint or an absolute URL, body in
        the model's form) as this version sends it: the body mapped, and where the version has
        no such request, another one saying the same (`pushes`). CannotSay when it cannot."""
        special = self.pushes.get(kind) if kind else None
        if special is not None:
            return await special(method, path, body, ctx)
        if kind is None or body is None:
            return method, path, body
        return method, path, await self.outbound(kind, body, ctx)

    def token_types_of(self, said: str) -> tuple[str, ...]:
        """The model's token types a token type of this version may stand for (a version without
        APP_USER says OTHER for it): the one said first."""
        return self.token_types.get(said, (said,))

    async def outbound_page(self, kind: str, rows: list[bytes | str], ctx: Context | None = None) -> list[bytes | str]:
        """A page of stored documents in this version's form, those it cannot say left out. A
        page where no document carries a marker of the kind is returned as it is, scanned once."""
        if kind not in self.objects or not rows:
            return rows
        markers = self.markers.get(kind)
        if markers is not None:
            joined = b"".join(rows) if isinstance(rows[0], bytes) else "".join(rows).encode()
            if not any(m in joined for m in markers):  # (substring search: far faster than a regex)
                return rows
        said = [await self.outbound_raw(kind, raw, ctx) for raw in rows]
        return [doc for doc in said if doc is not None]

    def refusal(self, kind: str, doc: dict[str, Any]) -> list[str]:
        """Why `doc` cannot be said in this version (empty: it can)."""
        check = self.refusals.get(kind)
        return check(doc) if check is not None else []


def pick(doc: dict[str, Any], fields: tuple[str, ...] | frozenset[str]) -> dict[str, Any]:
    """The fields of `doc` that are in `fields`, in the document's order."""
    return {k: v for k, v in doc.items() if k in fields}

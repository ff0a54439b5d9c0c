"""Where OCPI bodies enter and leave: the version of a request (the `{version}` of its path) or of
a partner (the version it registered on), that version's mapping, and the context a mapping
reads (the owner of an object, our party, the store's lookups).

Routes are written once and mounted under `/ocpi/{version}/...`; `versioned(module, role)` is
the dependency that answers 404 for a version we do not offer or that has no such interface,
and gives the route its version. Routes then read bodies with `Wire.body(kind)` and answer with
`Wire.out(kind, doc)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request

from evroam.model.common import format_datetime, utcnow
from evroam.ocpi import registry
from evroam.ocpi.mappings import CannotSay, Context
from evroam.ocpi.server import read_json
from evroam.ocpi.transport.errors import OcpiError, not_found

if TYPE_CHECKING:
    from evroam.app import Platform
    from evroam.model.partners import Partner


class StoreLookups:
    """What the mappings may look up, read from the platform's store (our own objects for
    outbound bodies, our tokens for 2.1.1 sessions and CDRs)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def location(self, country_code: str, party_id: str, location_id: str) -> dict[str, Any] | None:
        async with self.platform.store.connect() as conn:
            return await self.platform.store.locations.get(conn, country_code, party_id, location_id)

    async def tariff(self, country_code: str, party_id: str, tariff_id: str) -> dict[str, Any] | None:
        async with self.platform.store.connect() as conn:
            return await self.platform.store.tariffs.get(conn, country_code, party_id, tariff_id)

    async def token_by_contract(self, contract_id: str) -> dict[str, Any] | None:
        s = self.platform.settings
        async with self.platform.store.connect() as conn:
            return await self.platform.store.tokens.by_contract(conn, s.country_code, s.party_id, contract_id)

    async def session(self, country_code: str, party_id: str, session_id: str) -> dict[str, Any] | None:
        async with self.platform.store.connect() as conn:
            return await self.platform.store.sessions.get(conn, country_code, party_id, session_id)


def context(platform: Platform, *, owner: tuple[str, str] | None = None, **values: Any) -> Context:
    s = platform.settings
    return Context(owner=owner, us=(s.country_code, s.party_id), now=format_datetime(utcnow()),
                   lookups=StoreLookups(platform), **values)


def partner_version(partner: Partner) -> registry.OcpiVersion:
    return registry.get(partner.version)


def single_party(partner: Partner, role: str) -> tuple[str, str] | None:
    """The party a partner's objects belong to when a 2.1.1 body does not say (its only party in
    `role`)."""
    parties = partner.parties(role)
    return parties[0] if parties else None


def versioned(module: str, role: str) -> Callable[[Request], Any]:
    """Dependency of the routes of one module interface: the OcpiVersion of the request's path."""

    async def dependency(request: Request) -> registry.OcpiVersion:
        number = request.path_params.get("version", "")
        offered = registry.offered(request.app.state.platform.settings)
        if number not in offered:
            raise not_found(f"OCPI {number} is not offered here (offered: {', '.join(offered)})")
        version = registry.get(number)
        if version.interface(module, role) is None:
            raise not_found(f"OCPI {number} has no {module} {role.lower()} interface")
        request.state.ocpi_version = version
        return version

    return dependency


@dataclass
class Wire:
    """The bodies of one request, in the version of its path."""

    request: Request
    version: registry.OcpiVersion

    @classmethod
    def of(cls, request: Request) -> Wire:
        return cls(request, request.state.ocpi_version)

    @property
    def platform(self) -> Platform:
        return self.request.app.state.platform

    def ctx(self, owner: tuple[str, str] | None = None, **values: Any) -> Context:
        return context(self.platform, owner=owner, **values)

    async def body(self, kind: str, owner: tuple[str, str] | None = None, **values: Any) -> Any:
        """The request body, read into the model's form."""
        return await self.version.mapping.inbound(kind, await read_json(self.request), self.ctx(owner, **values))

    async def inbound(self, kind: str, body: Any, owner: tuple[str, str] | None = None, **values: Any) -> Any:
        return await self.version.mapping.inbound(kind, body, self.ctx(owner, **values))

    async def out(self, kind: str, doc: Any, owner: tuple[str, str] | None = None, **values: Any) -> Any:
        """A document of the model in this version's form; an object the version cannot say is
        answered with OCPI 2000 and the reason."""
        try:
            return await self.version.mapping.outbound(kind, doc, self.ctx(owner, **values))
        except CannotSay as exc:
            raise OcpiError(exc.reason, http_status=404) from None

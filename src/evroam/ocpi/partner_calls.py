"""The real-time partner calls the services use (`services.ports.PartnerCalls`), over OCPI: each
module's client does the call; failures become the port's PartnerCallFailed."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import quote

from evroam.model.commands import CommandType
from evroam.model.partners import Partner
from evroam.ocpi import registry
from evroam.ocpi.chargingprofiles import client as chargingprofiles_client
from evroam.ocpi.commands import sender as commands_client
from evroam.ocpi.tokens import client as tokens_client
from evroam.ocpi.transport import status
from evroam.ocpi.transport.client import OcpiClient
from evroam.ocpi.transport.errors import PartnerCallError
from evroam.services.ports import PartnerCallFailed
from evroam.settings import Settings

T = TypeVar("T")
#: where partners post the asynchronous results of our requests: (module, our interface) and the
#: path below it
RESULT_PATHS = {
    "chargingprofiles": (("chargingprofiles", registry.SENDER), "/results/"),
    "commands": (("commands", registry.SENDER), "/"),
}


class OcpiPartnerCalls:
    def __init__(self, client: OcpiClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def authorize(self, partner: Partner | None, token: dict[str, Any], *, location_id: str | None,
                        evse_uids: list[str] | None) -> dict[str, Any]:
        return await _failing(tokens_client.authorize(self.client, partner, token, location_id=location_id,
                                                      evse_uids=evse_uids))

    async def send_command(self, partner: Partner, command: str, body: dict[str, Any], *,
                           to_party: tuple[str, str] | None) -> dict[str, Any]:
        return await _failing(commands_client.send_command(self.client, partner, CommandType(command), body,
                                                           to_party=to_party,
                                                           wait=self.settings.command_timeout))

    def takes_commands(self, partner: Partner) -> bool:
        return commands_client.commands_url(partner) is not None

    async def charging_profile(self, partner: Partner, method: str, session_id: str, *,
                               body: dict[str, Any] | None, params: dict[str, Any] | None) -> dict[str, Any]:
        return await _failing(chargingprofiles_client.request(self.client, partner, method, session_id,
                                                              body=body, params=params))

    def results_url(self, module: str, *parts: str, partner: Partner | None = None) -> str:
        """Below our interface in the partner's version (the one it will post the result in)."""
        (name, role), below = RESULT_PATHS[module]
        version = registry.get(partner.version if partner is not None else None)
        return (version.url(self.settings.base_url, name, role) + below
                + "/".join(quote(p, safe="") for p in parts))


async def _failing(call: Awaitable[T]) -> T:
    try:
        return await call
    except PartnerCallError as exc:
        unknown = exc.ocpi_status == status.UNKNOWN_TOKEN or exc.http_status == 404
        raise PartnerCallFailed(str(exc), retryable=exc.retryable, unknown=unknown) from None

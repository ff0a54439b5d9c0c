"""Commands module, our side as the eMSP: the client that POSTs a command to a CPO partner's
commands receiver (`POST {commands_url}/{command}`, in the CPO's version) and returns its
CommandResponse. The asynchronous result comes back to the `response_url` we put in the command
(see `results.py`)."""

from __future__ import annotations

from typing import Any

from evroam.model.commands import CommandResponse, CommandType
from evroam.model.partners import Partner
from evroam.ocpi import registry
from evroam.ocpi.mappings import CannotSay, Context, base
from evroam.ocpi.transport.client import OcpiClient
from evroam.ocpi.transport.errors import PartnerCallError


def commands_url(partner: Partner) -> str | None:
    """The partner's commands receiver endpoint (None: it takes no commands)."""
    return partner.endpoint("commands", "RECEIVER")


async def send_command(client: OcpiClient, partner: Partner, command: CommandType, body: dict[str, Any], *,
                       to_party: tuple[str, str] | None = None, wait: int | None = None) -> dict[str, Any]:
    """POST one command; the CPO's CommandResponse (validated). PartnerCallError when the partner
    cannot be reached, answers an error, or answers something that is not a CommandResponse, or
    when the command cannot be said in its version."""
    base_url = commands_url(partner)
    if not base_url:
        raise PartnerCallError(f"partner {partner.name} has no commands receiver endpoint", retryable=False)
    version = registry.get(partner.version)
    try:
        said = await version.mapping.outbound(base.COMMAND, body, Context(command=command.value))
    except CannotSay as exc:
        raise PartnerCallError(f"partner {partner.name} (OCPI {version.number}): {exc.reason}",
                               retryable=False) from None
    url = f"{base_url.rstrip('/')}/{command.value}"
    reply = await client.call("POST", url, token=partner.outgoing_token or "", encoding=partner.outgoing_encoding,
                              json=said, module="commands" if version.routing_headers else None, to_party=to_party)
    data = reply.data if isinstance(reply.data, dict) else reply.data
    if isinstance(data, dict):
        data = await version.mapping.inbound(base.COMMAND_RESPONSE, data, Context(hints={"timeout": wait}
                                                                                  if wait else {}))
    try:
        return CommandResponse.model_validate(data).to_dict()
    except Exception as exc:
        raise PartnerCallError(f"POST {url}: the answer is not a CommandResponse ({exc})".splitlines()[0],
                               retryable=False) from None

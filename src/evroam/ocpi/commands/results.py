"""Commands module, sender interface (we are the eMSP): where a CPO POSTs the result of a command
we sent, at the `response_url` we gave it: `/ocpi/{version}/emsp/commands/{command}/{id}` (a
CommandResult; from a 2.1.1 CPO, a CommandResponse, read into a CommandResult).

Only the partner the command went to may post its result (others: 403); an id we never sent
(or sent as another command) is answered 404 with OCPI status 2003 ("unknown"), and a body that
is not a CommandResult with 2001; none of these change anything."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.commands import CommandResult
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated, routing_headers
from evroam.ocpi.transport import status
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import OcpiError
from evroam.ocpi.transport.openapi import envelope_responses, json_body
from evroam.ocpi.wire import Wire, versioned
from evroam.services.errors import NotFound

router = APIRouter(prefix="/ocpi/{version}/emsp/commands", tags=["OCPI commands (eMSP sender: results)"],
                   dependencies=[Depends(versioned("commands", SENDER))],
                   responses=envelope_responses(200))


@router.post("/{command}/{command_id}", summary="The CommandResult of a command we sent (our response_url)",
             openapi_extra=json_body("the CommandResult", CommandResult))
async def post_result(command: str, command_id: str, request: Request, caller: Caller = Depends(authenticated)):
    body = await Wire.of(request).body(base.COMMAND_RESULT)
    try:
        await request.app.state.platform.remote_commands.receive_result(command, command_id, caller.partner, body)
    except NotFound as exc:
        raise OcpiError(exc.message, ocpi_status=status.UNKNOWN_LOCATION, http_status=404) from None
    return ocpi_response(headers=routing_headers(request, caller))

"""Commands module, receiver interface (we are the CPO): `POST {commands_url}/{command}`.

The answer is the CommandResponse (whether we accepted the command, and `timeout`: how long the
eMSP should wait); the outcome at the charge point follows as a CommandResult POSTed to the
command's `response_url`. A command for an unknown location, EVSE or connector is answered with
OCPI status 2003 (unknown location) and a REJECTED CommandResponse as its data, as in the
specification's UNLOCK_CONNECTOR example."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.commands import COMMAND_REQUESTS, CommandResponseType, CommandType
from evroam.ocpi.server import Caller, authenticated, ocpi_error_for, read_json, routing_headers, validate
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import forbidden, invalid
from evroam.ocpi.transport.openapi import envelope_responses, json_body
from evroam.services.errors import NotFound

router = APIRouter(prefix="/ocpi/2.2.1/cpo/commands", tags=["OCPI commands (CPO receiver)"],
                   responses=envelope_responses(200))


@router.post("/{command}", summary="A command for one of our charge points (answered with a CommandResponse)",
             openapi_extra=json_body("the command's request object (StartSession, StopSession, ReserveNow, ...)"))
async def post_command(command: str, request: Request, caller: Caller = Depends(authenticated)):
    if not caller.partner.has_role("EMSP"):
        raise forbidden("commands are accepted from eMSP partners only")
    try:
        kind = CommandType(command.upper())
    except ValueError:
        err = invalid(f"unknown command {command!r}; one of: {', '.join(c.value for c in CommandType)}")
        err.http_status = 404
        raise err from None
    body = validate(COMMAND_REQUESTS[kind], await read_json(request), what=kind.value)
    commands = request.app.state.platform.commands
    try:
        response = await commands.receive(kind, body, caller.partner)
    except NotFound as exc:
        if exc.kind != "location":
            raise
        err = ocpi_error_for(exc)
        err.data = commands.response(CommandResponseType.REJECTED, exc.message)
        raise err from None
    return ocpi_response(response, headers=routing_headers(request, caller))

"""Commands module, receiver interface (we are the CPO): `POST {commands_url}/{command}`, in the
version of the path.

The answer is the CommandResponse (whether we accepted the command, and from 2.2 `timeout`: how
long the eMSP should wait); the outcome at the charge point follows, POSTed to the command's
`response_url` (a CommandResult; in 2.1.1 another CommandResponse). A command for an unknown
location, EVSE or connector is answered with OCPI status 2003 (unknown location) and a REJECTED
CommandResponse as its data, as in the specification's UNLOCK_CONNECTOR example."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.commands import COMMAND_REQUESTS, CommandResponseType, CommandType
from evroam.ocpi.mappings import CannotSay, base
from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, ocpi_error_for, routing_headers, validate
from evroam.ocpi.transport import headers as h
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import forbidden, invalid
from evroam.ocpi.transport.openapi import envelope_responses, json_body
from evroam.ocpi.wire import Wire, single_party, versioned
from evroam.services.errors import NotFound

router = APIRouter(prefix="/ocpi/{version}/cpo/commands", tags=["OCPI commands (CPO receiver)"],
                   dependencies=[Depends(versioned("commands", RECEIVER))],
                   responses=envelope_responses(200))


@router.post("/{command}", summary="A command for one of our charge points (answered with a CommandResponse)",
             openapi_extra=json_body("the command's request object (StartSession, StopSession, ReserveNow, ...)"))
async def post_command(command: str, request: Request, caller: Caller = Depends(authenticated)):
    if not (caller.partner.has_role("EMSP") or caller.partner.is_ptp):
        raise forbidden("commands are accepted from eMSP and payment terminal provider partners only")
    wire = Wire.of(request)
    try:
        kind = CommandType(command.upper())
        await wire.version.mapping.outbound(base.COMMAND, {}, wire.ctx(command=kind.value))  # said in this version?
    except (ValueError, CannotSay):
        err = invalid(f"unknown command {command!r} in OCPI {wire.version.number}")
        err.http_status = 404
        raise err from None
    # a 2.1.1 token names no owner: the eMSP party sending the command
    from_cc, from_pid = request.headers.get(h.FROM_COUNTRY), request.headers.get(h.FROM_PARTY)
    owner = (from_cc, from_pid) if from_cc and from_pid and caller.partner.owns(from_cc, from_pid, "EMSP") \
        else single_party(caller.partner, "EMSP")
    body = validate(COMMAND_REQUESTS[kind], await wire.body(base.COMMAND, owner=owner, command=kind.value),
                    what=kind.value)
    commands = request.app.state.platform.commands
    try:
        response = await commands.receive(kind, body, caller.partner)
    except NotFound as exc:
        if exc.kind != "location":
            raise
        err = ocpi_error_for(exc)
        err.data = await wire.out(base.COMMAND_RESPONSE,
                                  commands.response(CommandResponseType.REJECTED, exc.message))
        raise err from None
    return ocpi_response(await wire.out(base.COMMAND_RESPONSE, response), headers=routing_headers(request, caller))

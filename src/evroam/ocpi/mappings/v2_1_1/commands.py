"""Commands in OCPI 2.1.1: RESERVE_NOW, START_SESSION, STOP_SESSION and UNLOCK_CONNECTOR (no
CANCEL_RESERVATION); StartSession has no connector_id and no authorization_reference, and a
ReserveNow's reservation_id is an integer. There is no CommandResult: the CPO answers at once with a
CommandResponse `{result}` (no timeout, no message) and posts the outcome at the charge point to
the eMSP as another CommandResponse, whose results are fewer (TIMEOUT, no EVSE_OCCUPIED ...)."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import CannotSay, Context, ObjectMapping
from evroam.ocpi.mappings.v2_1_1.tokens import token_in, token_out

COMMANDS = frozenset({"RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"})
#: the model's CommandResult.result -> the 2.1.1 CommandResponseType that says it
RESULT_OUT = {"ACCEPTED": "ACCEPTED", "CANCELED_RESERVATION": "ACCEPTED", "NOT_SUPPORTED": "NOT_SUPPORTED",
              "TIMEOUT": "TIMEOUT", "EVSE_OCCUPIED": "REJECTED", "EVSE_INOPERATIVE": "REJECTED",
              "FAILED": "REJECTED", "REJECTED": "REJECTED", "UNKNOWN_RESERVATION": "REJECTED"}
#: a 2.1.1 asynchronous CommandResponse.result -> the model's CommandResult.result
RESULT_IN = {"ACCEPTED": "ACCEPTED", "NOT_SUPPORTED": "NOT_SUPPORTED", "REJECTED": "REJECTED",
             "TIMEOUT": "TIMEOUT", "UNKNOWN_SESSION": "REJECTED"}
#: a 2.1.1 synchronous CommandResponse.result -> the model's CommandResponseType
RESPONSE_IN = {"TIMEOUT": "REJECTED"}
#: seconds an eMSP waits for the result of a command to a 2.1.1 CPO, which says no timeout
DEFAULT_TIMEOUT = 30


def command_in(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = dict(body)
    if isinstance(out.get("token"), dict):
        out["token"] = token_in(out["token"], ctx)
    if isinstance(out.get("reservation_id"), int) and not isinstance(out["reservation_id"], bool):
        out["reservation_id"] = str(out["reservation_id"])
    return out


def command_out(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if ctx.command is not None and ctx.command not in COMMANDS:
        raise CannotSay(f"OCPI 2.1.1 has no {ctx.command} command")
    out = {k: v for k, v in body.items() if k not in ("connector_id", "authorization_reference")}
    if isinstance(out.get("token"), dict):
        out["token"] = token_out(out["token"])
    if "reservation_id" in out:
        rid = str(out["reservation_id"])
        if not (rid.isascii() and rid.isdigit()):
            raise CannotSay(f"reservation id {rid!r}: OCPI 2.1.1 reservation ids are integers")
        out["reservation_id"] = int(rid)
    return out


def response_in(response: dict[str, Any], ctx: Context) -> dict[str, Any]:
    result = response.get("result")
    return {"result": RESPONSE_IN.get(result, result),
            "timeout": response.get("timeout", ctx.hints.get("timeout", DEFAULT_TIMEOUT))}


def response_out(response: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {"result": response.get("result")}


def result_in(result: dict[str, Any], ctx: Context) -> dict[str, Any]:
    value = result.get("result")
    return {"result": RESULT_IN.get(value, value)}


def result_out(result: dict[str, Any], ctx: Context) -> dict[str, Any]:
    value = result.get("result")
    return {"result": RESULT_OUT.get(value, value)}


COMMAND = ObjectMapping(command_in, command_out)
COMMAND_RESPONSE = ObjectMapping(response_in, response_out)
COMMAND_RESULT = ObjectMapping(result_in, result_out)

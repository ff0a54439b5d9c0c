"""Commands in OCPI 2.2.1: the model's form; a token in a command said as 2.2.1 says it."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping, same
from evroam.ocpi.mappings.v2_2_1.tokens import token_out


def command_out(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if isinstance(body.get("token"), dict):
        return {**body, "token": token_out(body["token"])}
    return body


COMMAND = ObjectMapping(same, command_out)

"""Pushes that OCPI 2.1.1 says with another request than ours.

- A Session PATCH carrying charging periods appends them from 2.2; a 2.1.1 PATCH would replace
  the eMSP's periods with the few new ones. It is sent as a PUT of the whole Session instead
  (as it is when delivered: never older than what the PATCH said).
- A Token's receiver URL names it by uid alone: no `?type=`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from evroam.ocpi.mappings.base import CannotSay, Context
from evroam.ocpi.mappings.v2_1_1 import records, tokens


async def session_patch(method: str, path: str, body: Any, ctx: Context) -> tuple[str, str, Any]:
    if not isinstance(body, dict) or "charging_periods" not in body:
        return method, path, records.session_patch_out(body, ctx) if isinstance(body, dict) else body
    cc, pid, session_id = _ids(path)
    session = await ctx.lookups.session(cc, pid, session_id) if ctx.lookups is not None else None
    if session is None:
        raise CannotSay(f"session {session_id!r} is no longer known: its periods cannot be said as a 2.1.1 PATCH")
    return "PUT", path, await records.session_out(session, ctx)


async def token_put(method: str, path: str, body: Any, ctx: Context) -> tuple[str, str, Any]:
    return method, path.split("?", 1)[0], tokens.token_out(body) if isinstance(body, dict) else body


def _ids(path: str) -> tuple[str, str, str]:
    parts = [unquote(p) for p in path.split("?", 1)[0].strip("/").split("/")]
    if len(parts) != 3:
        raise CannotSay(f"unexpected session path {path!r}")
    return parts[0], parts[1], parts[2]

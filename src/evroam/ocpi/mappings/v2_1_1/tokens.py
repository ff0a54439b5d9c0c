"""Tokens in OCPI 2.1.1: no owner fields (the eMSP's party comes from the URL or the partner),
`auth_id` where the model says `contract_id`, no `group_id`, `default_profile_type` or
`energy_contract`, and only the types RFID and OTHER (APP_USER, AD_HOC_USER and EMAID are said
as OTHER). An AuthorizationInfo carries neither the token nor an authorization_reference, and
LocationReferences may name connectors (the model does not keep them)."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping

TOKEN_FIELDS = ("uid", "type", "auth_id", "visual_number", "issuer", "valid", "whitelist", "language",
                "last_updated")
TYPES = frozenset({"RFID", "OTHER"})


def token_type_out(value: Any) -> Any:
    return value if value in TYPES or value is None else "OTHER"


def token_out(token: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in token.items():
        if key == "contract_id":
            out["auth_id"] = value
        elif key == "type":
            out["type"] = token_type_out(value)
        elif key in TOKEN_FIELDS:
            out[key] = value
    return {k: out[k] for k in TOKEN_FIELDS if k in out}


def token_in(token: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ctx.owner is not None:
        out["country_code"], out["party_id"] = ctx.owner
    for key, value in token.items():
        if key == "auth_id":
            out["contract_id"] = value
        elif key not in ("country_code", "party_id"):
            out[key] = value
    return out


def token_patch_in(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = token_in(patch, Context())
    if "last_updated" not in out and ctx.now:
        out["last_updated"] = ctx.now
    return out


def authorization_info_out(info: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k in ("allowed", "location", "info")}


def authorization_info_in(info: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = {k: v for k, v in info.items() if k in ("allowed", "location", "info")}
    if isinstance(out.get("location"), dict):
        out["location"] = location_references_in(out["location"], ctx)
    if ctx.hints.get("token") is not None:
        out["token"] = ctx.hints["token"]
    return out


def location_references_in(refs: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {k: v for k, v in refs.items() if k != "connector_ids"}


TOKEN = ObjectMapping(token_in, token_out)
TOKEN_PATCH = ObjectMapping(token_patch_in, token_out)
AUTHORIZATION_INFO = ObjectMapping(authorization_info_in, authorization_info_out)
LOCATION_REFERENCES = ObjectMapping(location_references_in, lambda refs, ctx: refs)

"""Tokens in OCPI 2.2.1: the model's form, with the 2.3.0 EMAID token type said as OTHER."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping, same

#: token types the version does not have -> what it says instead
TYPES_DOWN = {"EMAID": "OTHER"}


def token_type_out(value: Any) -> Any:
    return TYPES_DOWN.get(value, value)


def token_out(token: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    if token.get("type") in TYPES_DOWN:
        return {**token, "type": token_type_out(token["type"])}
    return token


def cdr_token_out(doc: dict[str, Any]) -> dict[str, Any]:
    token = doc.get("cdr_token")
    if isinstance(token, dict) and token.get("type") in TYPES_DOWN:
        return {**doc, "cdr_token": token_out(token)}
    return doc


def authorization_info_out(info: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if isinstance(info.get("token"), dict):
        return {**info, "token": token_out(info["token"])}
    return info


TOKEN = ObjectMapping(same, token_out)
TOKEN_PATCH = ObjectMapping(same, token_out)
AUTHORIZATION_INFO = ObjectMapping(same, authorization_info_out)
MARKERS = (b'"EMAID"',)

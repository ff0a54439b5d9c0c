"""How the OCPI routes answer, for our OpenAPI document: every answer, success or error, is the
OCPI envelope; errors come with HTTP 400 (2001 invalid or missing parameters, 2002, ...),
401 (no or unknown token), 403 (not your party), 404 (no such object, 2000/2003/2004) or 405,
never as FastAPI's 422. Routers pass `responses=ERRORS` (or `responses=envelope_responses(...)`
for another success status), list endpoints `openapi_extra=PAGED`, and routes that read their
body themselves `openapi_extra=json_body(...)`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class OcpiEnvelope(BaseModel):
    """The OCPI response envelope (transport and format, "Response format")."""

    data: Any = Field(None, description="the answer's object or list; absent when there is nothing to return")
    status_code: int = Field(description="1xxx success, 2xxx client error, 3xxx server error, 4xxx hub error")
    status_message: str | None = Field(None, description="a human-readable explanation")
    timestamp: str = Field(description="when the answer was made (RFC 3339, UTC)")


class OcpiListEnvelope(OcpiEnvelope):
    data: list[dict[str, Any]] = Field(description="one page of objects; see the Link, X-Total-Count and X-Limit headers")


class OcpiErrorEnvelope(BaseModel):
    """An error answered in the OCPI envelope."""

    data: Any = None
    status_code: int = Field(ge=2000, le=4999, description="2xxx client error (2001 invalid or missing "
                             "parameters, 2003 unknown location, 2004 unknown token), 3xxx server error")
    status_message: str = Field(description="what was wrong")
    timestamp: str


def _error(description: str) -> dict[str, Any]:
    return {"model": OcpiErrorEnvelope, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid or missing parameters (OCPI 2001) or another client error, in the OCPI envelope"),
    401: _error("Missing or unknown credentials token (or token A outside versions and credentials)"),
    403: _error("The object belongs to a party that is not yours"),
    404: _error("No such object, version or endpoint (OCPI 2000, 2003 unknown location, 2004 unknown token)"),
    405: _error("Not allowed in the current registration state"),
    429: _error("Too many unknown tokens from this address: wait for Retry-After"),
    # documented so that the framework adds no 422 of its own: OCPI never answers 422
    "4XX": _error("Any other client error, in the OCPI envelope"),
}


def envelope_responses(*statuses: int, model: type[BaseModel] = OcpiEnvelope) -> dict[int | str, dict[str, Any]]:
    """Success statuses (e.g. 200 and 201 of a receiver PUT) with the envelope, and the errors."""
    out: dict[int | str, dict[str, Any]] = {s: {"model": model, "description": "Success, in the OCPI envelope"}
                                            for s in statuses}
    return {**out, **ERRORS}


def paged(*, date_from_required: bool = False) -> dict[str, Any]:
    """`openapi_extra` of a list endpoint: its paging and filter parameters (an empty value is
    the same as none)."""
    empty = {"type": "string", "maxLength": 0}
    whole = {"anyOf": [{"type": "integer", "minimum": 0}, empty]}
    instant = {"anyOf": [{"type": "string", "format": "date-time"}, empty]}
    return {"parameters": [
        {"name": "offset", "in": "query", "required": False, "description": "index of the first object (default 0)",
         "schema": whole},
        {"name": "limit", "in": "query", "required": False,
         "description": "page size (at most X-Limit; 0 or absent: X-Limit)", "schema": whole},
        {"name": "date_from", "in": "query", "required": date_from_required,
         "description": "only objects updated at or after", "schema": instant if not date_from_required else
         {"type": "string", "format": "date-time"}},
        {"name": "date_to", "in": "query", "required": False, "description": "only objects updated before",
         "schema": instant},
    ]}


PAGED = paged()


def json_body(description: str, model: type[BaseModel] | None = None, *, required: bool = True,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`openapi_extra` of a route that reads and validates its body itself: a JSON object, of
    `model`'s shape when given (and `extra`, e.g. more parameters)."""
    schema = inline_schema(model) if model is not None else {"type": "object"}
    return {"requestBody": {"required": required, "description": description, "content": {
        "application/json": {"schema": schema}}}, **(extra or {})}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of `model` with its definitions inlined (an OpenAPI request body cannot
    point into a schema's own `$defs`)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:  # a recursive model: stop at any JSON object
                    return {"type": "object"}
                rest = {k: resolve(v, seen) for k, v in node.items() if k != "$ref"}
                return {**resolve(defs[name], (*seen, name)), **rest}
            return {k: resolve(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v, seen) for v in node]
        return node

    return resolve(schema)


LIST = envelope_responses(200, model=OcpiListEnvelope)
CREATED_OR_REPLACED = envelope_responses(200, 201)  # a receiver's PUT: 201 when new, 200 when replaced
TOKEN_TYPE: dict[str, Any] = {"parameters": [
    {"name": "type", "in": "query", "required": False, "description": "the token's type (default RFID)",
     "schema": {"type": "string", "enum": ["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]}}]}

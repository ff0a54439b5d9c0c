"""How the driver API answers errors, for our OpenAPI document: `{"error": "<kind>", "detail":
...}` with the HTTP status (400 invalid, 401 unauthorized, 403 forbidden, 404 not_found, 422
invalid with one line per problem, 429 too_many_requests, 503 when remote commands are not
available)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DriverApiErrorAnswer(BaseModel):
    error: str = Field(description="invalid, unauthorized, forbidden, not_found, unavailable, ...")
    detail: Any = Field(None, description="what was wrong: a sentence, or one line per problem")


class DriverApiValidationAnswer(BaseModel):
    error: str = Field(description="invalid")
    detail: list[str] = Field(description='one line per problem: "field: message"')


def _error(description: str, model: type[BaseModel] = DriverApiErrorAnswer) -> dict[str, Any]:
    return {"model": model, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Bad input"),
    401: _error("Missing or unknown driver API key (`Authorization: Bearer <key>`)"),
    403: _error("Not allowed for this driver (blocked, or a CPO the contract does not allow)"),
    404: _error("No such object, or not the driver's"),
    422: _error("The body or query could not be read", DriverApiValidationAnswer),
    429: _error("Too many unknown API keys from this address: wait for Retry-After"),
}

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: _error("Remote commands are not available on this platform"),
}

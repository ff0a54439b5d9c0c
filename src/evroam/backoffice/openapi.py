"""How the admin API answers errors, for our OpenAPI document: `{"detail": "..."}` with the HTTP
status (400 bad input, 401 without the admin token, 403, 404, 409 a charger offline or a
conflicting state, 429 after too many wrong tokens), and 422 `{"detail": ["field: problem",
...]}` for a body or query the API could not read. Commands to chargers add 502 (the charger
refused with a CALLERROR) and 504 (it did not answer)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorAnswer(BaseModel):
    detail: str = Field(description="what was wrong")


class ValidationAnswer(BaseModel):
    detail: list[str] = Field(description='one line per problem: "field: message"')


def _error(description: str, model: type[BaseModel] = ErrorAnswer) -> dict[str, Any]:
    return {"model": model, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Bad input (an object the service refused)"),
    401: _error("Missing or wrong admin token (`Authorization: Bearer <token>`)"),
    403: _error("Not allowed"),
    404: _error("No such object"),
    409: _error("The charger is not connected, or the object is in a state that does not allow this"),
    422: _error("The body or query could not be read", ValidationAnswer),
    429: _error("Too many wrong admin tokens from this address: wait for Retry-After"),
}

CHARGER_COMMAND: dict[int | str, dict[str, Any]] = {
    502: _error("The charger answered the command with a CALLERROR"),
    504: _error("The charger did not answer in time"),
}

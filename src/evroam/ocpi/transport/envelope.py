"""The OCPI response envelope: {data, status_code, status_message, timestamp}."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.responses import Response

from evroam.model.common import format_datetime, utcnow
from evroam.ocpi.transport import status

_MESSAGES = {
    status.SUCCESS: "Success",
    status.CLIENT_ERROR: "Client error",
    status.INVALID_PARAMETERS: "Invalid or missing parameters",
    status.NOT_ENOUGH_INFORMATION: "Not enough information",
    status.UNKNOWN_LOCATION: "Unknown location",
    status.UNKNOWN_TOKEN: "Unknown token",
    status.SERVER_ERROR: "Server error",
    status.UNABLE_TO_USE_CLIENT_API: "Unable to use the client's API",
    status.UNSUPPORTED_VERSION: "Unsupported version",
    status.NO_MATCHING_ENDPOINTS: "No matching endpoints or expected endpoints missing between parties",
}


def envelope(data: Any = None, *, status_code: int = status.SUCCESS, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status_code"] = status_code
    body["status_message"] = message or _MESSAGES.get(status_code, "")
    body["timestamp"] = format_datetime(utcnow())
    return body


def ocpi_response(data: Any = None, *, status_code: int = status.SUCCESS, message: str | None = None,
                  http_status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(envelope(data, status_code=status_code, message=message)),
        status_code=http_status,
        media_type="application/json",
        headers=headers,
    )


def raw_list_response(items: Iterable[str | bytes], *, headers: dict[str, str] | None = None) -> Response:
    """A success envelope around already-serialised JSON objects (the list endpoints' hot path:
    stored documents are joined as they are, never parsed and re-serialised). Items are str, or
    UTF-8 bytes (joined without any copy to str)."""
    items = items if isinstance(items, list) else list(items)
    tail = orjson.dumps({"status_code": status.SUCCESS, "status_message": "Success",
                         "timestamp": format_datetime(utcnow())})
    if not items:
        body = b'{"data":[],' + tail[1:]
    elif isinstance(items[0], str):
        body = b'{"data":[' + ",".join(items).encode() + b"]," + tail[1:]
    else:  # one copy: [head, item, ",", item, ..., item, tail] joined at once
        parts = [b","] * (2 * len(items) + 1)
        parts[0] = b'{"data":['
        parts[1::2] = items
        parts[-1] = b"]," + tail[1:]
        body = b"".join(parts)
    return Response(body, media_type="application/json", headers=headers)


def raw_object_response(item: str, *, http_status: int = 200, headers: dict[str, str] | None = None) -> Response:
    tail = orjson.dumps({"status_code": status.SUCCESS, "status_message": "Success",
                         "timestamp": format_datetime(utcnow())})
    return Response(b'{"data":' + item.encode() + b"," + tail[1:], status_code=http_status,
                    media_type="application/json", headers=headers)

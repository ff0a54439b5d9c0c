"""OCPI errors raised by routes and services; the server turns them into envelopes."""

from __future__ import annotations

from evroam.ocpi.transport import status


class OcpiError(Exception):
    """An error answered in OCPI form: HTTP status + OCPI status code + message."""

    def __init__(self, message: str, *, ocpi_status: int = status.CLIENT_ERROR, http_status: int = 400,
                 data=None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ocpi_status = ocpi_status
        self.http_status = http_status
        self.data = data
        self.headers = headers


def invalid(message: str) -> OcpiError:
    """2001 Invalid or missing parameters (HTTP 400)."""
    return OcpiError(message, ocpi_status=status.INVALID_PARAMETERS, http_status=400)


def not_found(message: str) -> OcpiError:
    """A resource that does not exist: HTTP 404 with a client-error envelope."""
    return OcpiError(message, ocpi_status=status.CLIENT_ERROR, http_status=404)


def forbidden(message: str) -> OcpiError:
    return OcpiError(message, ocpi_status=status.CLIENT_ERROR, http_status=403)


def unauthorized(message: str) -> OcpiError:
    return OcpiError(message, ocpi_status=status.CLIENT_ERROR, http_status=401)


def too_many_failures(retry_after: str) -> OcpiError:
    """HTTP 429 (with Retry-After) to an address refused for its failed authentications."""
    return OcpiError(f"too many failed authentications from your address: retry after {retry_after} seconds",
                     ocpi_status=status.CLIENT_ERROR, http_status=429, headers={"Retry-After": retry_after})


def method_not_allowed(message: str) -> OcpiError:
    return OcpiError(message, ocpi_status=status.CLIENT_ERROR, http_status=405)


class PartnerCallError(Exception):
    """A call to a partner's OCPI API failed (network, HTTP error, or an error envelope)."""

    def __init__(self, message: str, *, http_status: int | None = None, ocpi_status: int | None = None,
                 retryable: bool = True) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.ocpi_status = ocpi_status
        self.retryable = retryable

"""Errors of the use cases, independent of any protocol; adapters translate them (OCPI status
codes, HTTP codes, CLI messages)."""


class ServiceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ServiceError):
    """The input is wrong (a field, an id that does not match, a missing value)."""


class NotFound(ServiceError):
    """The object does not exist (for this party)."""

    def __init__(self, message: str, *, kind: str = "object") -> None:
        super().__init__(message)
        self.kind = kind  # "location", "evse", "connector", "tariff", ...


class Forbidden(ServiceError):
    """The caller may not touch this object (another party's data)."""

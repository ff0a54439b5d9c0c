"""evroam: an open-source EV-charging platform (OCPI roaming and OCPP central system)."""

__version__ = "0.1.0"

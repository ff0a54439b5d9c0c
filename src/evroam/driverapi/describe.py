"""A tariff in words, for drivers (kept with the tariff engine: `evroam.tariffs.describe`)."""

from evroam.tariffs.describe import amount, describe_tariff

__all__ = ["amount", "describe_tariff"]

"""A tariff in words (kept in the tariff engine's package, `evroam.tariffs.words`)."""

from evroam.tariffs.words import amount, describe_tariff

__all__ = ["amount", "describe_tariff"]

"""Amounts in minor units (cents): what payment providers take, as exact integers.

`to_minor(Decimal("12.34"), "EUR") == 1234`; an amount with more decimals than its currency has
is refused rather than rounded silently (CDR totals are already rounded to the currency's unit)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

#: ISO 4217 currencies whose minor unit is not the hundredth
EXPONENTS = {"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
             "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
             "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3}


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: Any, currency: str) -> int:
    """`amount` (Decimal, str or a wire float, read through str) in minor units, exactly."""
    value = Decimal(str(amount))
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} {currency} has more decimals than the currency ({exponent(currency)})")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    exp = exponent(currency)
    return (Decimal(minor).scaleb(-exp)).quantize(Decimal(1).scaleb(-exp))

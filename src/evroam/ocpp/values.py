"""Strict reading of the numbers and times a charger sends, for every OCPP version and for
both the handlers' fast paths and the library's path: one place decides what a meter value,
a multiplier or a timestamp may be.

A value that fails raises the OCPP error the specification names for it (the connection
answers it as a CALLERROR in the charger's version; 1.6 spells FormatViolation
"FormationViolation"):

- TypeConstraintViolation: a field that is not of its type: a 1.6 meter value that is not a
  decimal number (hex, "1_000", digits other than ASCII 0-9, spaces, "NaN", "Infinity"), a
  dateTime that cannot be read ("yesterday", "2026-13-45T99:00:00Z").
- PropertyConstraintViolation: a value of the right type outside its range: a multiplier
  outside MULTIPLIERS, a number beyond MAX_MAGNITUDE once scaled to its base unit.
- FormatViolation: a 2.x number that JSON cannot carry (NaN, Infinity: the frame was not JSON).

Only finite numbers of a bounded size come out, so nothing downstream (pricing, the tariff
kernel, the database) ever sees NaN, an infinity or a float that overflows when multiplied."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from ocpp.exceptions import (
    FormatViolationError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)

from evroam.model.common import parse_datetime

# The 2.0.1 and 2.1 JSON schemas define UnitOfMeasure.multiplier as an integer with no bounds
# (1.6 has no multiplier). A meter register is scaled by at most an SI prefix of kilo (3) or
# milli (-3), and the value it scales is a decimal number already, so nothing beyond needs
# expressing; anything else is refused rather than computed (10 ** 10_000_000 would stall the
# process). The factors are a table: never computed from the charger's number.
MULTIPLIERS: dict[int, float] = {-3: 1e-3, -2: 1e-2, -1: 1e-1, 0: 1.0, 1: 1e1, 2: 1e2, 3: 1e3}

# The largest magnitude a reading may have in its base unit (Wh, W, A, V, ...): 10^12 Wh is a
# terawatt-hour, more than a megawatt charger's register reaches in a century. Far below what
# makes float arithmetic overflow (x * 1e6 mWh, kWh x price), so bounded values stay finite.
MAX_MAGNITUDE = 1e12

# 1.6 sends meter values as strings ("Raw" decimal numbers): ASCII digits with an optional sign,
# decimal point and exponent (some firmwares print doubles as e.g. "1.2345678E7"). Python's
# float() alone also reads "1_000", "nan", "inf", " 12 ", "١٢" (Arabic-Indic digits): not decimals.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_MAX_TEXT = 64

_KILO = {"kWh": 1000.0, "kW": 1000.0, "kvarh": 1000.0, "kvar": 1000.0, "kVA": 1000.0}


def decimal_16(text: Any, field: str = "value") -> float:
    """A 1.6 decimal number given as text, as a finite float (not yet scaled)."""
    if type(text) is not str or len(text) > _MAX_TEXT or _DECIMAL.fullmatch(text) is None:
        raise TypeConstraintViolationError(details={"cause": f"{field} {_shown(text)} is not a decimal number"})
    value = float(text)
    if not math.isfinite(value):
        raise PropertyConstraintViolationError(details={"cause": f"{field} {_shown(text)} is out of range"})
    return value


def number_2(value: Any, field: str = "value") -> float:
    """A 2.x JSON number as a finite float (not yet scaled)."""
    if type(value) is bool or not isinstance(value, int | float):
        raise TypeConstraintViolationError(details={"cause": f"{field} {_shown(value)} is not a number"})
    if isinstance(value, float) and not math.isfinite(value):
        raise FormatViolationError(details={"cause": f"{field} {value!r} is not a JSON number"})
    try:
        out = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise PropertyConstraintViolationError(details={"cause": f"{field} is out of range"}) from None
    return out


def multiplier(value: Any) -> float:
    """The factor of a UnitOfMeasure multiplier (default 0), from the table of allowed ones."""
    if value is None:
        return 1.0
    if type(value) is not int:
        raise TypeConstraintViolationError(details={"cause": f"multiplier {_shown(value)} is not an integer"})
    factor = MULTIPLIERS.get(value)
    if factor is None:
        low, high = min(MULTIPLIERS), max(MULTIPLIERS)
        raise PropertyConstraintViolationError(
            details={"cause": f"multiplier {_shown(value)} is outside {low}..{high}"})
    return factor


def scaled(value: float, unit: str | None, factor: float = 1.0, field: str = "value") -> float:
    """A reading in its base unit (kWh -> Wh, kW -> W, ...), within MAX_MAGNITUDE."""
    out = value * factor * _KILO.get(unit or "", 1.0)
    if not abs(out) <= MAX_MAGNITUDE:  # (also false for NaN)
        raise PropertyConstraintViolationError(
            details={"cause": f"{field} {value!r} {unit or ''} is beyond any meter's range".replace("  ", " ")})
    return out


def register_wh(value: Any, field: str) -> float:
    """A 1.6 meterStart / meterStop (an integer number of Wh, as the schema has it) as a float,
    within 0..MAX_MAGNITUDE (never float() of an integer with hundreds of digits)."""
    if type(value) is not int:
        raise TypeConstraintViolationError(details={"cause": f"{field} {_shown(value)} is not an integer"})
    if not 0 <= value <= MAX_MAGNITUDE:
        raise PropertyConstraintViolationError(
            details={"cause": f"{field} {_shown(value)} is not an energy register reading (0..{MAX_MAGNITUDE:.0e} Wh)"})
    return float(value)


def timestamp(value: Any, field: str = "timestamp") -> datetime:
    """An OCPP dateTime (RFC 3339), in UTC."""
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError):
        raise TypeConstraintViolationError(
            details={"cause": f"{field} {_shown(value)} is not a dateTime (e.g. 2024-05-06T08:00:00Z)"}) from None


def _shown(value: Any) -> str:
    """A value for an error message: repr, cut short (a charger may send anything)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

"""The tariff engine: prices sessions exactly as OCPI's tariff and CDR modules define.

Pure functions, no I/O, no clock. Typical use::

    from evroam.tariffs import compile_tariff, price_session, ChargingSession, MeterSample

    ct = compile_tariff(tariff, "Europe/Amsterdam")   # once per tariff and time zone
    result = price_session(ct, session)                # PricingResult, money in Decimal

`price_case(dict) -> dict` is the JSON contract of `evroam tariff price`; `explain(...)`
gives the per-period breakdown as data; `estimate(...)` prices a driver's planned charge;
`lint_tariff(...)` reports elements that can never apply and other tariff problems.
"""

from evroam.tariffs.case import InputError, parse_case, parse_tariff, price_case, result_dict
from evroam.tariffs.compiled import CompiledTariff
from evroam.tariffs.engine import PricingError, compile_tariff, price_session, split_periods
from evroam.tariffs.estimate import Estimate, estimate, planned_session
from evroam.tariffs.explain import Explanation, ExplanationRow, explain
from evroam.tariffs.lint import LintMessage, lint_tariff
from evroam.tariffs.types import (
    DEFAULT_ROUNDING,
    Charge,
    ChargingSession,
    MeterSample,
    Money,
    Period,
    PricingResult,
    Reservation,
    Rounding,
    SampleSeries,
)

__all__ = [
    "DEFAULT_ROUNDING",
    "Charge",
    "ChargingSession",
    "CompiledTariff",
    "Estimate",
    "Explanation",
    "ExplanationRow",
    "LintMessage",
    "InputError",
    "MeterSample",
    "Money",
    "Period",
    "PricingError",
    "PricingResult",
    "Reservation",
    "Rounding",
    "SampleSeries",
    "compile_tariff",
    "estimate",
    "explain",
    "lint_tariff",
    "planned_session",
    "parse_case",
    "parse_tariff",
    "price_case",
    "price_session",
    "result_dict",
    "split_periods",
]

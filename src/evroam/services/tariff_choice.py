"""Which of a connector's tariffs applies: the one in force at the start (start_date_time /
end_date_time), and among those, for a driver paying ad hoc, an AD_HOC_PAYMENT tariff when the
connector has one; else (and for drivers with a contract) a REGULAR tariff or one without type;
else the first in force. One rule for pricing sessions and for showing prices."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from evroam.model.common import parse_datetime


def in_force(tariff: dict[str, Any], at: datetime) -> bool:
    starts, ends = tariff.get("start_date_time"), tariff.get("end_date_time")
    return not (starts and parse_datetime(starts) > at or ends and parse_datetime(ends) <= at)


def choose(tariffs: Iterable[dict[str, Any] | None], at: datetime, *, ad_hoc: bool = False) -> dict[str, Any] | None:
    candidates = [t for t in tariffs if t is not None and in_force(t, at)]
    if ad_hoc:
        for tariff in candidates:
            if tariff.get("type") == "AD_HOC_PAYMENT":
                return tariff
    regular = [t for t in candidates if t.get("type") in (None, "REGULAR")]
    return (regular or candidates or [None])[0]

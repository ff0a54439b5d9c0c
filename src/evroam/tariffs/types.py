"""Inputs and outputs of the tariff engine: plain dataclasses, no validation framework.

Money is `Decimal` everywhere. Quantities are kept in exact integer units inside the engine:
energy in milliwatt-hours (1e-6 kWh), time in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

ENERGY = "ENERGY"
TIME = "TIME"
PARKING_TIME = "PARKING_TIME"
FLAT = "FLAT"
RESERVATION = "RESERVATION"

MWH_PER_KWH = 1_000_000  # engine energy unit: 1 mWh
MS_PER_HOUR = 3_600_000  # engine time unit: 1 ms


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Rounding:
    """How reported money is rounded. The engine computes exactly and rounds only what it
    reports, through `Rounding.money`, the single place where money is rounded."""

    decimals: int = 4
    mode: str = ROUND_HALF_UP

    def money(self, value: Decimal) -> Decimal:
        return value.quantize(Decimal(1).scaleb(-self.decimals), rounding=self.mode)


DEFAULT_ROUNDING = Rounding()


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One meter reading. `power_kw` / `current_a` hold from this sample until the next one.
    `current_a` is the sum over all phases (as OCPI's current restrictions define it)."""

    timestamp: datetime
    kwh_total: float
    power_kw: float | None = None
    current_a: float | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    start_date_time: datetime
    expiry_date_time: datetime | None = None
    expired: bool = False


@dataclass(frozen=True, slots=True)
class ChargingSession:
    start_date_time: datetime
    end_date_time: datetime
    meter_samples: Sequence[MeterSample] = ()
    reservation: Reservation | None = None


@dataclass(frozen=True, slots=True)
class SampleSeries:
    """A session in the engine's own units (epoch ms, kWh floats). Build it once with
    `SampleSeries.from_session` when the same readings are priced against many tariffs."""

    start_ms: int
    end_ms: int
    times_ms: Sequence[int]
    kwh: Sequence[float]
    power_kw: Sequence[float | None]
    current_a: Sequence[float | None]

    @classmethod
    def from_session(cls, session: ChargingSession) -> SampleSeries:
        samples = session.meter_samples
        return cls(
            to_ms(session.start_date_time),
            to_ms(session.end_date_time),
            [to_ms(s.timestamp) for s in samples],
            [s.kwh_total for s in samples],
            [s.power_kw for s in samples],
            [s.current_a for s in samples],
        )


@dataclass(slots=True)
class Money:
    excl_vat: Decimal
    incl_vat: Decimal | None  # None when the tax is unknown (2.3.0 tax_included NO without vat)


@dataclass(slots=True)
class Period:
    """A charging period: the active price component per dimension stays the same throughout.
    `components` holds (ENERGY, TIME, PARKING_TIME, FLAT) component ids, -1 when none is active."""

    start_ms: int
    end_ms: int
    charging: bool
    energy_mwh: int
    components: tuple[int, int, int, int]

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(slots=True)
class Charge:
    """What one price component costs over the session (or the reservation).

    `volume` is the measured billable amount in engine units (mWh, ms, or 1 for FLAT) and
    `step_extra` what step_size rounding added on top of it (billed at this component).
    The cost is exact: `excl_num / den` (and `incl_num / den`; None when the tax is unknown)."""

    dimension: str
    component: int
    volume: int
    step_extra: int
    excl_num: int
    incl_num: int | None
    den: int
    reservation: bool = False

    @property
    def cost(self) -> Money:
        den = Decimal(self.den)
        return Money(
            Decimal(self.excl_num) / den, Decimal(self.incl_num) / den if self.incl_num is not None else None
        )


@dataclass(slots=True)
class PeriodColumns:
    """Charging periods stored column-wise (how the engine produces them); `periods()`
    builds the `Period` objects."""

    starts: list[int]
    ends: list[int]
    charging: list[bool]
    energy_mwh: list[int]
    components: list[tuple[int, int, int, int]]

    def periods(self) -> list[Period]:
        return list(map(Period, self.starts, self.ends, self.charging, self.energy_mwh, self.components))


@dataclass(slots=True)
class PricingResult:
    currency: str
    total_cost: Money
    cost_before_limits: Money
    total_energy_mwh: int
    total_time_ms: int | None
    total_parking_time_ms: int | None
    period_columns: PeriodColumns
    charges: list[Charge]
    reservation_periods: list[Period] = field(default_factory=list)
    reservation_cost: Money | None = None
    min_price_applied: tuple[bool, bool] = (False, False)  # (excl, incl)
    max_price_applied: tuple[bool, bool] = (False, False)
    tariff_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    rounding: Rounding = DEFAULT_ROUNDING
    _periods: list[Period] | None = None

    @property
    def periods(self) -> list[Period]:
        """The charging periods, in order (built on first access)."""
        if self._periods is None:
            self._periods = self.period_columns.periods()
        return self._periods

    def cost_by_dimension(self) -> dict[str, Money]:
        """Cost per dimension before min/max price, reservation costs under RESERVATION."""
        excl: dict[str, Decimal] = {}
        incl: dict[str, Decimal | None] = {}
        for ch in self.charges:
            key = RESERVATION if ch.reservation else ch.dimension
            excl[key] = excl.get(key, Decimal(0)) + ch.cost.excl_vat
            prev = incl.get(key, Decimal(0))
            incl[key] = None if prev is None or ch.cost.incl_vat is None else prev + ch.cost.incl_vat
        return {k: Money(excl[k], incl[k]) for k in excl}

"""The explanation of a priced session, as data: one row per charging period and priced
dimension (element and component applied, volume, unit price, cost), the step_size
rounding, the FLAT fee, reservation rows, min/max adjustments and totals.

The CLI renders it as a table; the back office and driver API serialise `to_dict()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from evroam.model.common import format_datetime
from evroam.tariffs.compiled import CompiledTariff, Component
from evroam.tariffs.types import (
    DEFAULT_ROUNDING,
    ENERGY,
    FLAT,
    MS_PER_HOUR,
    MWH_PER_KWH,
    PARKING_TIME,
    TIME,
    Money,
    PricingResult,
    from_ms,
)

_UNITS = {ENERGY: "kWh", TIME: "h", PARKING_TIME: "h", FLAT: "session"}


@dataclass(frozen=True, slots=True)
class ExplanationRow:
    kind: str  # "period", "step_size", "flat", "reservation", "reservation_flat", "reservation_step_size"
    dimension: str
    period: int | None  # index in result.periods / result.reservation_periods
    start: datetime | None
    end: datetime | None
    element: int | None  # tariff.elements index, None when no component was active
    component: int | None  # index in that element's price_components
    volume: Decimal  # in `unit`
    unit: str
    unit_price: Decimal | None
    vat: Decimal | None
    cost: Money
    note: str = ""

    def to_dict(self, rounding) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "dimension": self.dimension,
            "period": self.period,
            "start_date_time": format_datetime(self.start) if self.start else None,
            "end_date_time": format_datetime(self.end) if self.end else None,
            "element": self.element,
            "component": self.component,
            "volume": float(round(self.volume, 6)),
            "unit": self.unit,
            "unit_price": float(self.unit_price) if self.unit_price is not None else None,
            "vat": float(self.vat) if self.vat is not None else None,
            "cost_excl_vat": float(rounding.money(self.cost.excl_vat)),
            "cost_incl_vat": float(rounding.money(self.cost.incl_vat))
            if self.cost.incl_vat is not None
            else None,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(slots=True)
class Explanation:
    currency: str
    tariff_id: str | None
    time_zone: str
    rows: list[ExplanationRow]
    subtotal: Money
    total: Money
    adjustments: list[str] = field(default_factory=list)
    total_energy_kwh: Decimal = Decimal(0)
    total_time_h: Decimal | None = None
    total_parking_time_h: Decimal | None = None
    warnings: list[str] = field(default_factory=list)
    result: PricingResult | None = None

    def to_dict(self) -> dict[str, Any]:
        r = self.result.rounding if self.result is not None else DEFAULT_ROUNDING

        def money(m: Money) -> dict[str, float | None]:
            return {
                "excl_vat": float(r.money(m.excl_vat)),
                "incl_vat": float(r.money(m.incl_vat)) if m.incl_vat is not None else None,
            }

        return {
            "currency": self.currency,
            "tariff_id": self.tariff_id,
            "time_zone": self.time_zone,
            "rows": [row.to_dict(r) for row in self.rows],
            "subtotal": money(self.subtotal),
            "adjustments": list(self.adjustments),
            "total": money(self.total),
            "total_energy": float(round(self.total_energy_kwh, 6)),
            "total_time": float(round(self.total_time_h, 6)) if self.total_time_h is not None else None,
            "total_parking_time": (
                float(round(self.total_parking_time_h, 6)) if self.total_parking_time_h is not None else None
            ),
            "warnings": list(self.warnings),
        }


def _volume(comp_dim: str, units: int) -> Decimal:
    if comp_dim == ENERGY:
        return Decimal(units) / MWH_PER_KWH
    if comp_dim == FLAT:
        return Decimal(units)
    return Decimal(units) / MS_PER_HOUR


def _amount(ct: CompiledTariff, comp: Component, units: int) -> Money:
    den = Decimal(ct.money_den)
    return Money(
        Decimal(comp.rate_excl * units) / den,
        Decimal(comp.rate_incl * units) / den if comp.rate_incl is not None else None,
    )


def _row(ct, kind, dim, idx, p, comp: Component | None, units: int, note: str = "") -> ExplanationRow:
    zero = Money(Decimal(0), Decimal(0))
    return ExplanationRow(
        kind=kind,
        dimension=dim,
        period=idx,
        start=from_ms(p.start_ms) if p is not None else None,
        end=from_ms(p.end_ms) if p is not None else None,
        element=comp.element if comp else None,
        component=comp.index if comp else None,
        volume=_volume(dim, units),
        unit=_UNITS[dim],
        unit_price=comp.price if comp else None,
        vat=comp.vat if comp else None,
        cost=_amount(ct, comp, units) if comp else zero,
        note=note,
    )


def explain(ct: CompiledTariff, result: PricingResult) -> Explanation:
    """Build the explanation of `result` (priced with `ct`)."""
    comps = ct.components
    res_rows: list[ExplanationRow] = []
    res_steps: list[ExplanationRow] = []
    rows: list[ExplanationRow] = []
    step_rows: list[ExplanationRow] = []
    for ch in result.charges:
        comp = comps[ch.component]
        if ch.dimension == FLAT:
            if ch.reservation:
                res_rows.append(_row(ct, "reservation_flat", FLAT, None, None, comp, 1, "reservation fee"))
            else:
                rows.append(_row(ct, "flat", FLAT, None, None, comp, 1, "once per session"))
        elif ch.step_extra:
            note = f"step_size {comp.step_size} {'Wh' if ch.dimension == ENERGY else 's'}"
            if ch.reservation:
                res_steps.append(
                    _row(ct, "reservation_step_size", ch.dimension, None, None, comp, ch.step_extra, note)
                )
            else:
                step_rows.append(_row(ct, "step_size", ch.dimension, None, None, comp, ch.step_extra, note))
    for idx, p in enumerate(result.reservation_periods):
        cid = p.components[1]
        res_rows.append(
            _row(
                ct,
                "reservation",
                TIME,
                idx,
                p,
                comps[cid] if cid >= 0 else None,
                p.duration_ms,
                "reservation" if cid >= 0 else "reservation, not priced",
            )
        )
    for idx, p in enumerate(result.periods):
        ce, cti, cp, _cf = p.components
        if p.charging:
            show_energy = ce >= 0 or ct.session_dim_mask[ENERGY] != 0
            if show_energy:
                rows.append(
                    _row(
                        ct,
                        "period",
                        ENERGY,
                        idx,
                        p,
                        comps[ce] if ce >= 0 else None,
                        p.energy_mwh,
                        "" if ce >= 0 else "not priced",
                    )
                )
            if cti >= 0 or ct.session_dim_mask[TIME] != 0 or not show_energy:
                rows.append(
                    _row(
                        ct,
                        "period",
                        TIME,
                        idx,
                        p,
                        comps[cti] if cti >= 0 else None,
                        p.duration_ms,
                        "" if cti >= 0 else "not priced",
                    )
                )
        else:
            rows.append(
                _row(
                    ct,
                    "period",
                    PARKING_TIME,
                    idx,
                    p,
                    comps[cp] if cp >= 0 else None,
                    p.duration_ms,
                    "" if cp >= 0 else "not priced",
                )
            )
    rows = res_rows + res_steps + rows + step_rows
    adjustments = []
    before, total = result.cost_before_limits, result.total_cost
    cur = ct.currency
    tariff = ct.tariff
    if result.min_price_applied[0] or result.min_price_applied[1]:
        assert tariff.min_price is not None
        adjustments.append(
            f"min_price {tariff.min_price.excl_vat} excl / {tariff.min_price.incl_vat} incl VAT {cur}: "
            f"raised {'excl' if result.min_price_applied[0] else ''}"
            f"{' and ' if all(result.min_price_applied) else ''}{'incl' if result.min_price_applied[1] else ''}"
        )
    if result.max_price_applied[0] or result.max_price_applied[1]:
        assert tariff.max_price is not None
        adjustments.append(
            f"max_price {tariff.max_price.excl_vat} excl / {tariff.max_price.incl_vat} incl VAT {cur}: "
            f"capped {'excl' if result.max_price_applied[0] else ''}"
            f"{' and ' if all(result.max_price_applied) else ''}{'incl' if result.max_price_applied[1] else ''}"
        )
    return Explanation(
        currency=cur,
        tariff_id=result.tariff_id,
        time_zone=str(ct.tz.key),
        rows=rows,
        subtotal=before,
        total=total,
        adjustments=adjustments,
        total_energy_kwh=Decimal(result.total_energy_mwh) / MWH_PER_KWH,
        total_time_h=Decimal(result.total_time_ms) / MS_PER_HOUR
        if result.total_time_ms is not None
        else None,
        total_parking_time_h=(
            Decimal(result.total_parking_time_ms) / MS_PER_HOUR
            if result.total_parking_time_ms is not None
            else None
        ),
        warnings=list(result.warnings),
        result=result,
    )

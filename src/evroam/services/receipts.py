"""The receipt of an ad-hoc payment (and the invoice of a payment at a payment terminal): an
invoice with VAT, made from the session's CDR. Its total
is the CDR's `total_cost` (what was captured); the lines say what it is made of (session fee,
energy, time, parking), each with its amount without VAT, the VAT and the amount with VAT, to
the cent. Money as Decimal strings."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from evroam.model.common import parse_datetime
from evroam.services.money import from_minor
from evroam.settings import Settings
from evroam.store.payments import PaymentRecord

CENT = Decimal("0.01")
_LINES = (("total_fixed_cost", "Session fee"), ("total_energy_cost", "Energy"), ("total_time_cost", "Charging time"),
          ("total_parking_cost", "Parking time"), ("total_reservation_cost", "Reservation"))


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _amounts(price: dict[str, Any] | None) -> dict[str, str]:
    price = price or {}
    excl = _money(price.get("excl_vat", 0))
    incl = _money(price["incl_vat"]) if price.get("incl_vat") is not None else excl
    return {"excl_vat": str(excl), "vat": str(incl - excl), "incl_vat": str(incl)}


def _vat_rates(cdr: dict[str, Any]) -> list[str]:
    rates = {Decimal(str(c["vat"])).normalize() for t in cdr.get("tariffs") or [] for e in t.get("elements") or []
             for c in e.get("price_components") or [] if c.get("vat") is not None}
    return [format(r, "f") for r in sorted(rates)]


def receipt_of_cdr(cdr: dict[str, Any], settings: Settings, *, number: str, reference: str,
                   evse_id: str | None = None) -> dict[str, Any]:
    """An invoice with VAT made from a CDR: `number` is the invoice's, `reference` the payment's."""
    start, end = parse_datetime(cdr["start_date_time"]), parse_datetime(cdr["end_date_time"])
    location = cdr.get("cdr_location") or {}
    lines = []
    for key, label in _LINES:
        if cdr.get(key):
            lines.append({"description": label, **_amounts(cdr[key])})
    if not lines:
        lines.append({"description": "Charging", **_amounts(cdr.get("total_cost"))})
    return {
        "number": number,
        "issuer": settings.business_name,
        "issuer_party": f"{settings.country_code}*{settings.party_id}",
        "issued_at": cdr["end_date_time"],
        "payment_id": reference,
        "location": ", ".join(p for p in (location.get("name"), location.get("address"), location.get("postal_code"),
                                          location.get("city")) if p),
        "evse_id": location.get("evse_id") or evse_id,
        "start_date_time": cdr["start_date_time"],
        "end_date_time": cdr["end_date_time"],
        "duration_minutes": int((end - start).total_seconds() // 60),
        "energy_kwh": str(Decimal(str(cdr.get("total_energy", 0))).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)),
        "currency": cdr["currency"],
        "lines": lines,
        "total": _amounts(cdr.get("total_cost")),
        "vat_rates": _vat_rates(cdr),
    }


def receipt(payment: PaymentRecord, cdr: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return {
        **receipt_of_cdr(cdr, settings, number=payment.data.get("receipt_number") or f"R-{payment.pk:08d}",
                         reference=payment.id, evse_id=payment.data.get("evse_id")),
        "paid": str(from_minor(payment.captured_minor or 0, payment.currency)),
        "card_held": str(from_minor(payment.hold_minor, payment.currency)),
    }

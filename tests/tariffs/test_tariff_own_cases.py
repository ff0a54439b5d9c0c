"""Edge cases priced by hand. Each test carries its derivation; times are local unless
marked Z. Prices excl. VAT unless stated."""

from __future__ import annotations

import pytest
from tariff_case_builder import case, el, local, pc, session, tariff, utc

from evroam.tariffs import price_case

AMS = "Europe/Amsterdam"
TOL = 0.005


def total(out: dict) -> tuple[float, float | None]:
    return out["total_cost"]["excl_vat"], out["total_cost"].get("incl_vat")


def starts(out: dict) -> list[str]:
    return [p["start_date_time"] for p in out["charging_periods"]]


# ----------------------------------------------------------------------- time of day


def test_window_wrapping_past_midnight_evening():
    # TIME 2.00/h from 22:00 to 06:00 (wraps), otherwise 1.00/h.
    # 21:00-23:30 CEST: 21:00-22:00 1 h * 1.00 = 1.00; 22:00-23:30 1.5 h * 2.00 = 3.00 -> 4.00
    t = tariff(el(pc("TIME", 2.0), start_time="22:00", end_time="06:00"), el(pc("TIME", 1.0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 21:00"), [(150, 20)])))
    assert total(out)[0] == pytest.approx(4.00, abs=TOL)
    assert starts(out) == ["2024-05-06T19:00:00Z", "2024-05-06T20:00:00Z"]


def test_window_wrapping_past_midnight_morning():
    # Same tariff, 05:00-07:00: 05:00-06:00 inside the wrapped window (2.00), 06:00-07:00 1.00 -> 3.00
    t = tariff(el(pc("TIME", 2.0), start_time="22:00", end_time="06:00"), el(pc("TIME", 1.0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-07 05:00"), [(120, 20)])))
    assert total(out)[0] == pytest.approx(3.00, abs=TOL)


def test_end_time_midnight_means_end_of_day():
    # ENERGY 0.40 from 18:00 until 00:00 (= end of day), otherwise 0.20. 10 kW from 23:00 to 01:00:
    # 23:00-00:00 10 kWh * 0.40 = 4.00; 00:00-01:00 10 kWh * 0.20 = 2.00 -> 6.00
    t = tariff(el(pc("ENERGY", 0.40), start_time="18:00", end_time="00:00"), el(pc("ENERGY", 0.20)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 23:00"), [(120, 20)])))
    assert total(out)[0] == pytest.approx(6.00, abs=TOL)
    assert [p["dimensions"][0]["volume"] for p in out["charging_periods"]] == pytest.approx([10, 10])


def test_only_end_time_and_only_start_time():
    # ENERGY 0.10 until 07:00 (no start_time), 0.50 from 20:00 (no end_time), else 0.30.
    # 06:00-08:00 at 5 kW: 06-07 5 kWh*0.10 = 0.50; 07-08 5 kWh*0.30 = 1.50 -> 2.00
    t = tariff(
        el(pc("ENERGY", 0.10), end_time="07:00"),
        el(pc("ENERGY", 0.50), start_time="20:00"),
        el(pc("ENERGY", 0.30)),
    )
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 06:00"), [(120, 10)])))
    assert total(out)[0] == pytest.approx(2.00, abs=TOL)
    # 19:00-21:00: 5 kWh*0.30 + 5 kWh*0.50 = 4.00
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 19:00"), [(120, 10)])))
    assert total(out)[0] == pytest.approx(4.00, abs=TOL)


def test_day_of_week_changes_at_local_midnight():
    # TIME 3.00/h on SATURDAY and SUNDAY, else 1.00/h. Friday 2024-05-10 23:00 -> Saturday 01:00:
    # 1 h * 1.00 + 1 h * 3.00 = 4.00; the split is at local midnight (22:00Z).
    t = tariff(el(pc("TIME", 3.0), day_of_week=["SATURDAY", "SUNDAY"]), el(pc("TIME", 1.0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-10 23:00"), [(120, 20)])))
    assert total(out)[0] == pytest.approx(4.00, abs=TOL)
    assert starts(out) == ["2024-05-10T21:00:00Z", "2024-05-10T22:00:00Z"]


def test_wrapped_window_with_day_of_week_is_evaluated_at_each_instant():
    # PARKING 5.00/h 22:00-06:00 on FRIDAY only (all restrictions AND-ed at every instant),
    # else parking free. Parked Friday 23:00 -> Saturday 01:00: only Friday 23:00-00:00 -> 5.00
    t = tariff(el(pc("PARKING_TIME", 5.0), start_time="22:00", end_time="06:00", day_of_week=["FRIDAY"]))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-10 23:00"), [(120, 0)])))
    assert total(out)[0] == pytest.approx(5.00, abs=TOL)


# ----------------------------------------------------------------------- DST


def test_dst_spring_forward():
    # 2024-03-31 Amsterdam: 02:00 CET jumps to 03:00 CEST at 01:00Z.
    # TIME 2.00/h from 00:00 to 03:00, else 1.00/h. Session 00:00Z-02:00Z (01:00 CET - 04:00 CEST):
    # 00:00Z-01:00Z = 01:00-02:00 local, in window: 1 h * 2.00
    # 01:00Z-02:00Z = 03:00-04:00 local, outside: 1 h * 1.00 -> 3.00 (2 real hours)
    t = tariff(el(pc("TIME", 2.0), start_time="00:00", end_time="03:00"), el(pc("TIME", 1.0)))
    out = price_case(case(t, AMS, session(utc("2024-03-31 00:00"), [(120, 20)])))
    assert total(out)[0] == pytest.approx(3.00, abs=TOL)
    assert out["total_time"] == pytest.approx(2.0)
    assert starts(out) == ["2024-03-31T00:00:00Z", "2024-03-31T01:00:00Z"]


def test_dst_fall_back_window_occurs_twice():
    # 2024-10-27 Amsterdam: 03:00 CEST falls back to 02:00 CET at 01:00Z, so 02:00-03:00 happens twice.
    # TIME 6.00/h from 02:00 to 03:00, else 1.00/h. Session 23:30Z (01:30 CEST) - 02:30Z (03:30 CET):
    # 23:30Z-00:00Z 01:30-02:00: 0.5 h * 1.00 = 0.50
    # 00:00Z-01:00Z 02:00-03:00 CEST and 01:00Z-02:00Z 02:00-03:00 CET: 2 h * 6.00 = 12.00
    # 02:00Z-02:30Z 03:00-03:30 CET: 0.5 h * 1.00 = 0.50 -> 13.00
    t = tariff(el(pc("TIME", 6.0), start_time="02:00", end_time="03:00"), el(pc("TIME", 1.0)))
    out = price_case(case(t, AMS, session(utc("2024-10-26 23:30"), [(180, 20)])))
    assert total(out)[0] == pytest.approx(13.00, abs=TOL)
    assert starts(out) == ["2024-10-26T23:30:00Z", "2024-10-27T00:00:00Z", "2024-10-27T02:00:00Z"]


def test_dst_fall_back_day_has_25_hours_of_day_of_week():
    # SUNDAY parking 1.00/h. Parked from Sunday 2024-10-27 00:00 CEST (26th 22:00Z) to
    # Monday 00:00 CET (27th 23:00Z): the Sunday lasts 25 real hours -> 25.00
    t = tariff(el(pc("PARKING_TIME", 1.0), day_of_week=["SUNDAY"]))
    out = price_case(case(t, AMS, session(utc("2024-10-26 21:00"), [(27 * 60, 0)])))
    # 21:00Z-22:00Z is Saturday 23:00 (free), 22:00Z-23:00Z next day is Sunday (25 h), 23:00Z-00:00Z Monday
    assert total(out)[0] == pytest.approx(25.00, abs=TOL)


# ----------------------------------------------------------------------- other time zones


def test_new_york_peak_window():
    # America/New_York, EDT (UTC-4). ENERGY 0.30 from 16:00 to 21:00, else 0.15.
    # 19:00Z-22:00Z = 15:00-18:00 EDT at 11 kW: 11 kWh * 0.15 = 1.65 + 22 kWh * 0.30 = 6.60 -> 8.25
    t = tariff(el(pc("ENERGY", 0.30), start_time="16:00", end_time="21:00"), el(pc("ENERGY", 0.15)))
    out = price_case(case(t, "America/New_York", session(utc("2024-07-01 19:00"), [(180, 33)])))
    assert total(out)[0] == pytest.approx(8.25, abs=TOL)
    assert starts(out)[1] == "2024-07-01T20:00:00Z"


def test_half_hour_offset_zone():
    # Asia/Kolkata (UTC+5:30). TIME 2.00/h from 18:00 to 00:00, else 1.00/h.
    # 12:00Z-13:30Z = 17:30-19:00 IST: 0.5 h * 1.00 + 1 h * 2.00 = 2.50
    t = tariff(el(pc("TIME", 2.0), start_time="18:00", end_time="00:00"), el(pc("TIME", 1.0)))
    out = price_case(case(t, "Asia/Kolkata", session(utc("2024-05-06 12:00"), [(90, 10)])))
    assert total(out)[0] == pytest.approx(2.50, abs=TOL)
    assert starts(out) == ["2024-05-06T12:00:00Z", "2024-05-06T12:30:00Z"]


# ----------------------------------------------------------------------- min / max price


def test_max_price_incl_capped_on_its_own():
    # FLAT 1.00 (21 % VAT) + ENERGY 0.30 (9 % VAT); max 10.00 excl / 11.00 incl. 30 kWh:
    # excl 1.00 + 9.00 = 10.00 (not above 10.00); incl 1.21 + 9.81 = 11.02 -> capped to 11.00
    t = tariff(
        el(pc("FLAT", 1.0, vat=21), pc("ENERGY", 0.30, vat=9)), max_price={"excl_vat": 10.0, "incl_vat": 11.0}
    )
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(180, 30)])))
    assert total(out) == pytest.approx((10.00, 11.00), abs=TOL)
    assert out["cost_before_limits"]["incl_vat"] == pytest.approx(11.02, abs=TOL)


def test_max_price_excl_capped_on_its_own():
    # ENERGY 0.50 (no VAT) + FLAT 2.00 (25 % VAT); max 10.00 excl / 13.00 incl. 17 kWh:
    # excl 8.50 + 2.00 = 10.50 -> 10.00; incl 8.50 + 2.50 = 11.00 (under 13.00) stays 11.00
    t = tariff(
        el(pc("ENERGY", 0.50), pc("FLAT", 2.0, vat=25)), max_price={"excl_vat": 10.0, "incl_vat": 13.0}
    )
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(120, 17)])))
    assert total(out) == pytest.approx((10.00, 11.00), abs=TOL)


def test_min_price_incl_lifted_on_its_own():
    # ENERGY 0.30 (21 % VAT) + FLAT 0.50 (no VAT); min 1.50 excl / 2.10 incl. 4 kWh:
    # excl 1.20 + 0.50 = 1.70 (>= 1.50, unchanged); incl 1.452 + 0.50 = 1.952 -> lifted to 2.10
    t = tariff(el(pc("ENERGY", 0.30, vat=21), pc("FLAT", 0.50)), min_price={"excl_vat": 1.5, "incl_vat": 2.1})
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(30, 4)])))
    assert total(out) == pytest.approx((1.70, 2.10), abs=TOL)


def test_min_price_without_incl_bound_keeps_the_vat_share():
    # ENERGY 0.25 (10 % VAT), min 0.50 excl only. 1 kWh: 0.25 -> 0.50 excl; incl follows
    # the session's own VAT share: 0.50 * 1.10 = 0.55
    t = tariff(el(pc("ENERGY", 0.25, vat=10)), min_price={"excl_vat": 0.5})
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(10, 1)])))
    assert total(out) == pytest.approx((0.50, 0.55), abs=TOL)


def test_max_price_2_3_0_spelling_is_accepted():
    # PriceLimit before_taxes / after_taxes (2.3.0) read like Price excl_vat / incl_vat.
    t = tariff(el(pc("ENERGY", 1.0, vat=20)), max_price={"before_taxes": 5.0, "after_taxes": 5.5})
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(60, 10)])))
    assert total(out) == pytest.approx((5.00, 5.50), abs=TOL)


# ----------------------------------------------------------------------- power / current


def test_min_power_is_inclusive_max_power_exclusive():
    # ENERGY 0.50 when power >= 50 kW, 0.25 when power < 22 kW, else 0.30.
    # 30 min at exactly 50 kW (25 kWh) -> 0.50: 12.50
    # 30 min at exactly 22 kW (11 kWh): not < 22, not >= 50 -> 0.30: 3.30
    # 30 min at 21.9 kW (10.95 kWh) -> 0.25: 2.7375                     total 18.5375
    t = tariff(
        el(pc("ENERGY", 0.50), min_power=50.0), el(pc("ENERGY", 0.25), max_power=22.0), el(pc("ENERGY", 0.30))
    )
    s = session(local(AMS, "2024-05-06 10:00"), [(30, 25), (30, 11), (30, 10.95)], power=[50.0, 22.0, 21.9])
    out = price_case(case(t, AMS, s))
    assert total(out)[0] == pytest.approx(18.5375, abs=TOL)
    assert [p["active_elements"]["ENERGY"] for p in out["charging_periods"]] == [0, 2, 1]


def test_current_band_switches_mid_session():
    # TIME 1.00/h below 32 A, 2.00/h from 32 A. 16 A for 60 min, 32 A for 30 min, 31.9 A for 30 min:
    # 1.00 + 0.5 * 2.00 + 0.5 * 1.00 = 2.50
    t = tariff(el(pc("TIME", 1.0), max_current=32.0), el(pc("TIME", 2.0), min_current=32.0))
    s = session(local(AMS, "2024-05-06 10:00"), [(60, 11), (30, 11), (30, 11)], current=[16.0, 32.0, 31.9])
    out = price_case(case(t, AMS, s))
    assert total(out)[0] == pytest.approx(2.50, abs=TOL)
    assert len(out["charging_periods"]) == 3


def test_missing_power_is_derived_from_the_energy_rate():
    # ENERGY 0.20 below 16 kW else 0.50; no power_kw given: 30 kWh in 60 min = 30 kW -> 0.50 * 30 = 15.00
    t = tariff(el(pc("ENERGY", 0.20), max_power=16.0), el(pc("ENERGY", 0.50)))
    s = session(local(AMS, "2024-05-06 10:00"), [(60, 30)])
    for sample in s["meter_samples"]:
        sample.pop("power_kw")
    assert total(price_case(case(t, AMS, s)))[0] == pytest.approx(15.00, abs=TOL)


# ----------------------------------------------------------------------- duration


def test_duration_counts_the_whole_session_including_charging():
    # PARKING free for the first 2 h of the session (max_duration 7200), then 6.00/h.
    # Charge 60 min, park 120 min: parking 60-120 min is free, 120-180 min costs 6.00 -> 6.00
    t = tariff(el(pc("PARKING_TIME", 0.0), max_duration=7200), el(pc("PARKING_TIME", 6.0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(60, 11), (120, 0)])))
    assert total(out)[0] == pytest.approx(6.00, abs=TOL)
    assert starts(out) == ["2024-05-06T08:00:00Z", "2024-05-06T09:00:00Z", "2024-05-06T10:00:00Z"]


def test_min_duration_is_inclusive():
    # TIME 3.00/h from 30 min into the session, else 1.00/h. 45 min: 0.5 * 1.00 + 0.25 * 3.00 = 1.25
    t = tariff(el(pc("TIME", 3.0), min_duration=1800), el(pc("TIME", 1.0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(45, 5)])))
    assert total(out)[0] == pytest.approx(1.25, abs=TOL)
    assert out["charging_periods"][1]["active_elements"]["TIME"] == 0


# ----------------------------------------------------------------------- kWh tiers


def test_kwh_tiers_split_inside_one_meter_interval():
    # ENERGY 0.20 below 10 kWh, 0.30 from 10 to 30 kWh, 0.40 from 30 kWh. 40 kWh at 10 kW in one interval:
    # 10 * 0.20 + 20 * 0.30 + 10 * 0.40 = 12.00; periods split at 1 h and 3 h.
    t = tariff(
        el(pc("ENERGY", 0.20), max_kwh=10.0),
        el(pc("ENERGY", 0.30), min_kwh=10.0, max_kwh=30.0),
        el(pc("ENERGY", 0.40)),
    )
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(240, 40)])))
    assert total(out)[0] == pytest.approx(12.00, abs=TOL)
    assert [p["dimensions"][0]["volume"] for p in out["charging_periods"]] == pytest.approx([10, 20, 10])
    assert [p["dimensions"][1]["volume"] for p in out["charging_periods"]] == pytest.approx([1, 2, 1])


def test_kwh_threshold_reached_exactly_at_a_sample():
    # ENERGY free for the first 5 kWh (max_kwh 5), then 0.40. 5 kWh then 2 kWh in two intervals -> 0.80
    t = tariff(el(pc("ENERGY", 0.0), max_kwh=5.0), el(pc("ENERGY", 0.40)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(30, 5), (30, 2)])))
    assert total(out)[0] == pytest.approx(0.80, abs=TOL)


# ----------------------------------------------------------------------- dates


def test_start_and_end_date_end_exclusive():
    # ENERGY 0.10 on 2024-12-25 only (start_date 12-25, end_date 12-26 exclusive), else 0.30.
    # 2024-12-25 22:00 -> 12-26 02:00 CET at 10 kW: 20 kWh * 0.10 + 20 kWh * 0.30 = 8.00
    t = tariff(el(pc("ENERGY", 0.10), start_date="2024-12-25", end_date="2024-12-26"), el(pc("ENERGY", 0.30)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-12-25 22:00"), [(240, 40)])))
    assert total(out)[0] == pytest.approx(8.00, abs=TOL)
    assert starts(out)[1] == "2024-12-25T23:00:00Z"


# ----------------------------------------------------------------------- VAT


def test_vat_omitted_and_vat_zero():
    # FLAT 1.00 without vat (no VAT applies) + ENERGY 0.25 at 0 % VAT. 10 kWh: 3.50 excl, 3.50 incl.
    t = tariff(el(pc("FLAT", 1.0), pc("ENERGY", 0.25, vat=0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(60, 10)])))
    assert total(out) == pytest.approx((3.50, 3.50), abs=TOL)
    # with FLAT at 20 % instead: incl 1.20 + 2.50 = 3.70
    t = tariff(el(pc("FLAT", 1.0, vat=20), pc("ENERGY", 0.25, vat=0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(60, 10)])))
    assert total(out) == pytest.approx((3.50, 3.70), abs=TOL)


def test_vat_applies_per_component():
    # FLAT 0.50 @ 20 %, ENERGY 0.25 @ 10 %, PARKING 2.00/h @ 20 % step 900. 20 kWh + 40 min parking:
    # excl 0.50 + 5.00 + 1.50 (45 min) = 7.00; incl 0.60 + 5.50 + 1.80 = 7.90 (tariff_10)
    t = tariff(el(pc("FLAT", 0.5, vat=20), pc("ENERGY", 0.25, vat=10), pc("PARKING_TIME", 2.0, 900, vat=20)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(120, 20), (40, 0)])))
    assert total(out) == pytest.approx((7.00, 7.90), abs=TOL)


def test_tax_included_2_3_0():
    # tariff_19 (NO, no vat): C$2.00/h * 2.5 h = 5.00 before taxes; taxes unknown -> no incl_vat
    no = tariff(el(pc("TIME", 2.0)), tax_included="NO", currency="CAD")
    out = price_case(case(no, "America/Toronto", session(utc("2024-05-06 14:00"), [(150, 20)])))
    assert out["total_cost"] == {"excl_vat": 5.0}
    # tariff_20 (YES, no vat): C$2.10/h * 2.5 h = 5.25 all-in; the tax share is unknown
    yes = tariff(el(pc("TIME", 2.1)), tax_included="YES", currency="CAD")
    out = price_case(case(yes, "America/Toronto", session(utc("2024-05-06 14:00"), [(150, 20)])))
    assert total(out) == pytest.approx((5.25, 5.25), abs=TOL)
    # YES with vat 5 %: 5.25 incl -> 5.25 / 1.05 = 5.00 excl
    yes5 = tariff(el(pc("TIME", 2.1, vat=5)), tax_included="YES")
    out = price_case(case(yes5, AMS, session(utc("2024-05-06 14:00"), [(150, 20)])))
    assert total(out) == pytest.approx((5.00, 5.25), abs=TOL)
    # N/A: no taxes at all, vat ignored
    na = tariff(el(pc("TIME", 2.0, vat=20)), tax_included="N/A")
    out = price_case(case(na, AMS, session(utc("2024-05-06 14:00"), [(150, 20)])))
    assert total(out) == pytest.approx((5.00, 5.00), abs=TOL)


# ----------------------------------------------------------------------- pauses


def test_pause_mid_session_is_parking_and_step_size_rounds_parking_only():
    # TIME 1.20/h step 300, PARKING 2.40/h step 300.
    # charge 20 min, pause 7 min, charge 23 min, park 10 min:
    # charging 43 min * 1.20/h = 0.86 (not rounded: parking was billed)
    # parking 7 + 10 = 17 min -> 20 min * 2.40/h = 0.80           total 1.66
    t = tariff(el(pc("TIME", 1.2, 300), pc("PARKING_TIME", 2.4, 300)))
    out = price_case(
        case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(20, 3), (7, 0), (23, 4), (10, 0)]))
    )
    assert total(out)[0] == pytest.approx(1.66, abs=TOL)
    assert out["total_parking_time"] == pytest.approx(17 / 60, abs=1e-4)
    assert len(out["charging_periods"]) == 4


def test_idle_before_first_and_after_last_sample_is_parking():
    # PARKING 6.00/h. Session 10:00-11:00, samples only 10:10-10:40 (charging):
    # 10:00-10:10 and 10:40-11:00 are parking: 30 min * 6.00/h -> 3.00
    t = tariff(el(pc("PARKING_TIME", 6.0), pc("ENERGY", 0.0)))
    s = session(local(AMS, "2024-05-06 10:10"), [(30, 5)])
    s["start_date_time"] = "2024-05-06T08:00:00Z"
    s["end_date_time"] = "2024-05-06T09:00:00Z"
    out = price_case(case(t, AMS, s))
    assert total(out)[0] == pytest.approx(3.00, abs=TOL)
    assert out["total_time"] == pytest.approx(1.0)
    assert out["total_parking_time"] == pytest.approx(0.5)


# ----------------------------------------------------------------------- reservation


def test_reservation_expired_uses_expires_element_first_even_when_listed_later():
    # RESERVATION TIME 3.00/h listed before RESERVATION_EXPIRES TIME 6.00/h; expired after 90 min:
    # the spec prices an expired reservation's time with the RESERVATION_EXPIRES element: 1.5 * 6 = 9.00
    t = tariff(
        el(pc("TIME", 3.0, 600), reservation="RESERVATION"),
        el(pc("TIME", 6.0, 600), reservation="RESERVATION_EXPIRES"),
        el(pc("ENERGY", 0.25)),
    )
    s = {
        "start_date_time": "2024-05-06T08:00:00Z",
        "end_date_time": "2024-05-06T09:30:00Z",
        "meter_samples": [],
        "reservation": {
            "start_date_time": "2024-05-06T08:00:00Z",
            "expiry_date_time": "2024-05-06T09:30:00Z",
            "expired": True,
        },
    }
    out = price_case(case(t, AMS, s))
    assert total(out)[0] == pytest.approx(9.00, abs=TOL)
    assert out["total_time"] is None


def test_reservation_fee_not_expired_ignores_expiry_fee():
    # RESERVATION FLAT 1.00 + TIME 4.00/h step 60; RESERVATION_EXPIRES FLAT 5.00; session FLAT 0.50.
    # Reserved 10 min before charging: 1.00 + 10 min * 4/h = 0.6667 + 0.50 -> 2.1667
    t = tariff(
        el(pc("FLAT", 5.0), reservation="RESERVATION_EXPIRES"),
        el(pc("FLAT", 1.0), pc("TIME", 4.0, 60), reservation="RESERVATION"),
        el(pc("FLAT", 0.5)),
    )
    s = session(
        local(AMS, "2024-05-06 10:00"), [(60, 10)], reservation={"start_date_time": "2024-05-06T07:50:00Z"}
    )
    out = price_case(case(t, AMS, s))
    assert total(out)[0] == pytest.approx(2.1667, abs=TOL)
    assert out["total_reservation_cost"]["excl_vat"] == pytest.approx(1.6667, abs=TOL)


# ----------------------------------------------------------------------- step_size (spec examples)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        # CDR module: 115.2 Wh at 0.25/kWh. step 1 -> 116 Wh = 0.029; step 25 -> 125 Wh = 0.03125;
        # step 500 -> 500 Wh = 0.125
        (1, 0.029),
        (25, 0.03125),
        (500, 0.125),
    ],
)
def test_energy_step_size_spec_examples(step, expected):
    t = tariff(el(pc("ENERGY", 0.25, step)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(10, 0.1152)])))
    assert out["total_cost"]["excl_vat"] == pytest.approx(expected, abs=1e-4)  # reported to 4 decimals


def test_time_step_size_parking_rounds_tariff_module_example():
    # "someone parked for 8 minutes will be billed 10 minutes" (step 300): PARKING 6.00/h -> 1.00
    t = tariff(el(pc("PARKING_TIME", 6.0, 300)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(8, 0)])))
    assert total(out)[0] == pytest.approx(1.00, abs=TOL)


def test_time_step_size_without_parking_rounds_charging_time():
    # TIME 6.00/h step 600, PARKING_TIME not priced: charge 21 min, idle 5 min -> TIME 21 -> 30 min = 3.00
    t = tariff(el(pc("TIME", 6.0, 600)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(21, 3), (5, 0)])))
    assert total(out)[0] == pytest.approx(3.00, abs=TOL)


def test_flat_is_charged_once_with_two_flat_elements():
    # FLAT 1.00 before 12:00, FLAT 2.00 otherwise; session 11:00-13:00: the first active FLAT, once -> 1.00
    t = tariff(el(pc("FLAT", 1.0), end_time="12:00"), el(pc("FLAT", 2.0)))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 11:00"), [(120, 10)])))
    assert total(out)[0] == pytest.approx(1.00, abs=TOL)


def test_no_matching_element_means_free_dimension():
    # ENERGY priced only on weekends; a Monday session costs nothing.
    t = tariff(el(pc("ENERGY", 0.5), day_of_week=["SATURDAY", "SUNDAY"]))
    out = price_case(case(t, AMS, session(local(AMS, "2024-05-06 10:00"), [(60, 10)])))
    assert total(out) == pytest.approx((0.0, 0.0))
    assert out["cost_breakdown_excl_vat"] == {}


def test_zero_length_session_still_pays_its_flat_fee():
    # FLAT 0.50 + ENERGY 0.25; plugged in and out at once: 0.50
    t = tariff(el(pc("FLAT", 0.5), pc("ENERGY", 0.25)))
    s = {
        "start_date_time": "2024-05-06T08:00:00Z",
        "end_date_time": "2024-05-06T08:00:00Z",
        "meter_samples": [],
    }
    out = price_case(case(t, AMS, s))
    assert total(out)[0] == pytest.approx(0.50, abs=TOL)
    assert out["charging_periods"] == []


def test_readings_outside_the_session_are_cut_at_its_bounds():
    # ENERGY 0.25, PARKING 2.00/h. Readings 07:50Z-10:10Z, session 08:00Z-10:00Z:
    # 07:50-08:10 2 kWh -> half (1 kWh) inside; 08:10-09:50 10 kWh; 09:50-10:00 parked (10 of 20 min)
    # energy 11 kWh * 0.25 = 2.75 + parking 10 min * 2.00/h = 0.3333 -> 3.0833
    t = tariff(el(pc("ENERGY", 0.25), pc("PARKING_TIME", 2.0)))
    s = session(utc("2024-05-06 07:50"), [(20, 2), (100, 10), (20, 0)])
    s["start_date_time"], s["end_date_time"] = "2024-05-06T08:00:00Z", "2024-05-06T10:00:00Z"
    out = price_case(case(t, AMS, s))
    assert total(out)[0] == pytest.approx(3.0833, abs=TOL)
    assert out["total_energy"] == pytest.approx(11.0)
    assert out["total_parking_time"] == pytest.approx(1 / 6, abs=1e-4)

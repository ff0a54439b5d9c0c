"""Tariff engine throughput: sessions priced per second on one core.

A 3-hour session with 36 meter samples (current varying around the 32 A boundary, the last
40 minutes parked) priced against the specification's complex tariff example
(tariff_4_complex.json), precompiled once. Compared in the same run with a straightforward
per-minute reference pricer (tests/tariffs/tariff_reference.py).

    .venv/bin/python bench/tariffs.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "tariffs"))

from tariff_reference import reference_price  # noqa: E402

from evroam.model.tariffs import Tariff  # noqa: E402
from evroam.tariffs import ChargingSession, MeterSample, SampleSeries, compile_tariff, price_session  # noqa: E402

EXAMPLE = ROOT.parent / "shared" / "ocpi-examples" / "2.2.1" / "tariff_4_complex.json"
FALLBACK = ROOT / "docs" / "examples" / "tariff-complex.json"
TZ = "Europe/Amsterdam"


def make_session(seed: int = 4, steady: bool = False) -> ChargingSession:
    """Monday 09:30 local, 3 h, 36 samples every 5 min (the last at 2 h 55 m); charging for
    140 min, then parked. Minute-aligned, so the per-minute reference is exact for it. The
    current wanders between 24 and 40 A across the tariff's 32 A boundary, or with `steady`
    varies only between 15.5 and 16.5 A."""
    rnd = random.Random(seed)
    start = datetime(2024, 5, 6, 7, 30, tzinfo=UTC)
    n = 36
    step = timedelta(minutes=5)
    kwh = 12345.678
    samples = []
    for i in range(n):
        t = start + step * i
        charging = t < start + timedelta(minutes=140)
        current = (rnd.uniform(15.5, 16.5) if steady else rnd.uniform(24.0, 40.0)) if charging else 0.0
        power = round(current * 0.23, 3) if charging else 0.0
        samples.append(MeterSample(t, round(kwh, 3), power, round(current, 2)))
        if charging:
            kwh += power * step.total_seconds() / 3600
    return ChargingSession(start, start + timedelta(hours=3), tuple(samples))


def rate(fn, seconds: float) -> float:
    """Best-of-5 seconds per call, each round running for about seconds/5."""
    n = 1
    while True:  # calibrate
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > 0.05:
            break
        n *= 2
    per_round = max(1, int(n * (seconds / 5) / dt))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(per_round):
            fn()
        best = min(best, (time.perf_counter() - t0) / per_round)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per variant")
    args = parser.parse_args()
    path = EXAMPLE if EXAMPLE.is_file() else FALLBACK
    tariff = Tariff.model_validate(json.loads(path.read_text()))
    ct = compile_tariff(tariff, TZ)
    session = make_session()
    series = SampleSeries.from_session(session)
    samples = [(m.timestamp, m.kwh_total, m.power_kw, m.current_a) for m in session.meter_samples]

    result = price_session(ct, session)
    ref_excl, ref_incl = reference_price(tariff, TZ, session.start_date_time, session.end_date_time, samples)
    print(f"tariff {path.name}, session 3 h, {len(samples)} samples, {len(result.periods)} charging periods")
    print(f"  engine    total {result.total_cost.excl_vat:.4f} excl / {result.total_cost.incl_vat:.4f} incl")
    print(f"  reference total {ref_excl:.4f} excl / {ref_incl:.4f} incl (per-minute, exact for this session)")

    t_series = rate(lambda: price_session(ct, series), args.seconds)
    t_session = rate(lambda: price_session(ct, session), args.seconds)
    steady = SampleSeries.from_session(make_session(steady=True))
    t_steady = rate(lambda: price_session(ct, steady), args.seconds)
    t_ref = rate(
        lambda: reference_price(tariff, TZ, session.start_date_time, session.end_date_time, samples),
        args.seconds / 2,
    )
    print(
        f"engine, SampleSeries input (epoch ms)   {t_series * 1e6:8.1f} us/session  {1 / t_series:10,.0f} sessions/s"
    )
    print(
        f"engine, ChargingSession (datetimes)     {t_session * 1e6:8.1f} us/session  {1 / t_session:10,.0f} sessions/s"
    )
    print(
        f"  same, current steady at ~16 A        {t_steady * 1e6:8.1f} us/session  {1 / t_steady:10,.0f} sessions/s"
    )
    print(
        f"per-minute reference pricer             {t_ref * 1e6:8.1f} us/session  {1 / t_ref:10,.0f} sessions/s"
    )
    print(
        f"ratio engine/reference: {t_ref / t_series:,.0f}x (SampleSeries), {t_ref / t_session:,.0f}x (datetimes)"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(single thread; load average {load:.2f} on {os.cpu_count()} CPUs while measuring)")


if __name__ == "__main__":
    main()

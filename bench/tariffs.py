"""Tariff engine throughput: sessions priced per second on one core.

A 3-hour session with 36 meter samples (current varying around the 32 A boundary, the last
40 minutes parked) priced against the specification's complex tariff example
(tariff_4_complex.json), precompiled once. Compared in the same run with a straightforward
per-minute reference pricer (tests/tariffs/tariff_reference.py), and, when the engine was
installed compiled (mypyc, see setup.py), with its interpreted source.

Target: at least 20,000 sessions/s (50 us per session) on one core. Timings are the best of
10 interleaved rounds; the load average and a machine baseline (a 36-element list
comprehension, measured in the same rounds) are printed with them, since a loaded or slow
machine moves every figure.

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
from evroam.tariffs import (  # noqa: E402
    ChargingSession,
    MeterSample,
    SampleSeries,
    compile_tariff,
    price_session,
    variants,
)

EXAMPLE = ROOT / "tests" / "data" / "ocpi-examples" / "2.2.1" / "tariff_4_complex.json"
FALLBACK = ROOT / "docs" / "examples" / "tariff-complex.json"
TZ = "Europe/Amsterdam"
TARGET = 20_000  # sessions/s
ROUNDS = 10  # best of


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


def _calibrate(fn, seconds: float) -> int:
    """Calls of `fn` that take about `seconds`."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > 0.02:
            return max(1, int(n * seconds / dt))
        n *= 2


def rates(fns: dict, seconds: float, cycles: int = ROUNDS) -> dict:
    """Best seconds per call of each function, over `cycles` interleaved rounds of about
    seconds/cycles each (interleaved, so a burst of load elsewhere hits all of them alike)."""
    counts = {k: _calibrate(fn, seconds / cycles) for k, fn in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(cycles):
        for k, fn in fns.items():
            n = counts[k]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / n)
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

    load_before = _load()
    items = list(range(36))
    builds = [("compiled" if variants.compiled() else "interpreted", price_session)]
    if variants.compiled():
        builds.append(("interpreted", variants.pure_engine().price_session))
    steady = SampleSeries.from_session(make_session(steady=True))
    forms = [
        ("SampleSeries input (epoch ms)", series),
        ("ChargingSession (datetimes)", session),
        ("  SampleSeries, current ~16 A", steady),
    ]
    fns = {"baseline": lambda: [x for x in items]}
    for build, price in builds:
        for what, data in forms:
            fns[(build, what)] = lambda p=price, d=data: p(ct, d)
    best = rates(fns, args.seconds * len(fns))
    rows = [(build, what, best[(build, what)]) for build, _ in builds for what, _ in forms]
    t_base = best["baseline"]
    t_ref = rates(
        {"ref": lambda: reference_price(tariff, TZ, session.start_date_time, session.end_date_time, samples)},
        args.seconds,
        cycles=5,
    )["ref"]
    load_after = _load()
    for build, what, t in rows:
        verdict = ("PASS" if 1 / t >= TARGET else "FAIL") if build == builds[0][0] else ""
        print(f"engine {build:11s} {what:31s} {t * 1e6:8.1f} us/session {1 / t:9,.0f} sessions/s  {verdict}")
    print(f"per-minute reference pricer {'':19s}{t_ref * 1e6:9.1f} us/session {1 / t_ref:9,.0f} sessions/s")
    t_series, t_session = rows[0][2], rows[1][2]
    print(
        f"ratio engine/reference: {t_ref / t_series:,.0f}x (SampleSeries), {t_ref / t_session:,.0f}x (datetimes)"
    )
    if len(builds) > 1:
        print(
            f"compiled/interpreted speed-up: {rows[3][2] / rows[0][2]:.1f}x (SampleSeries), "
            f"{rows[4][2] / rows[1][2]:.1f}x (datetimes)"
        )
    print(
        f"target {TARGET:,} sessions/s ({1e6 / TARGET:.0f} us) on one core: "
        f"{'PASS' if 1 / t_series >= TARGET else 'FAIL'} (SampleSeries), "
        f"{'PASS' if 1 / t_session >= TARGET else 'FAIL'} (datetimes)"
    )
    print(
        f"machine: load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} CPUs; "
        f"baseline 36-element list comprehension {t_base * 1e6:.2f} us (single thread, best of {ROUNDS})"
    )


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


if __name__ == "__main__":
    main()

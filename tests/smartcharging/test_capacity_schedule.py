"""The schedule file: parsing errors, periods wrapping midnight, DST days, next_change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evroam.smartcharging import load_schedule

AMS = "Europe/Amsterdam"


def sched(*periods, tz=AMS):
    return load_schedule({"timezone": tz, "periods": list(periods)})


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "schedule: expected an object"),
        ({"periods": []}, "timezone: required"),
        ({"timezone": "Mars/Olympus", "periods": []}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"timezone": AMS}, "periods: required"),
        ({"timezone": AMS, "periods": [], "extra": 1}, "unknown field 'extra'"),
        ({"timezone": AMS, "periods": ["17:00"]}, r"periods\[0\]: expected an object"),
        ({"timezone": AMS, "periods": [{"end": "20:00", "capacity_kw": 1}]}, r"periods\[0\].start: required"),
        ({"timezone": AMS, "periods": [{"start": "25:00", "end": "20:00", "capacity_kw": 1}]},
         r"periods\[0\].start: expected a time HH:MM"),
        ({"timezone": AMS, "periods": [{"start": "24:00", "end": "20:00", "capacity_kw": 1}]},
         r"periods\[0\].start: expected a time"),
        ({"timezone": AMS, "periods": [{"start": "7:00", "end": "20:00", "capacity_kw": 1}]},
         r"periods\[0\].start: expected a time"),
        ({"timezone": AMS, "periods": [{"start": "17:00", "end": "17:00", "capacity_kw": 1}]},
         r"periods\[0\].end: equals start"),
        ({"timezone": AMS, "periods": [{"start": "17:00", "end": "20:00"}]},
         r"periods\[0\]: needs capacity_kw or capacity_a"),
        ({"timezone": AMS, "periods": [{"start": "17:00", "end": "20:00", "capacity_kw": -1}]},
         r"periods\[0\].capacity_kw: expected a number >= 0"),
        ({"timezone": AMS, "periods": [{"start": "17:00", "end": "20:00", "capacity_a": "16"}]},
         r"periods\[0\].capacity_a: expected a number"),
        ({"timezone": AMS, "periods": [{"start": "17:00", "end": "20:00", "capacity_a": True}]},
         r"periods\[0\].capacity_a: expected a number"),
        ({"timezone": AMS, "periods": [{"days": ["MON"], "start": "17:00", "end": "20:00", "capacity_kw": 1}]},
         r"periods\[0\].days: unknown day 'MON'"),
        ({"timezone": AMS, "periods": [{"days": [], "start": "17:00", "end": "20:00", "capacity_kw": 1}]},
         r"periods\[0\].days: expected a non-empty list"),
        ({"timezone": AMS, "periods": [{"start": "17:00", "end": "20:00", "capacity_kw": 1},
                                       {"start": "17:00", "end": "20:00", "capacity_kw": 1, "kw": 3}]},
         r"periods\[1\].kw: unknown field"),
    ],
)
def test_parsing_errors_name_the_field(doc, message):
    with pytest.raises(ValueError, match=message):
        load_schedule(doc)


def test_weekday_evening_period():
    s = sched({"days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
               "start": "17:00", "end": "20:00", "capacity_kw": 11})
    monday = utc(2024, 5, 6)  # CEST: local = UTC + 2
    assert s.limit_kw_at(monday.replace(hour=14, minute=59), 22) == 22
    assert s.limit_kw_at(monday.replace(hour=15), 22) == 11
    assert s.limit_kw_at(monday.replace(hour=17, minute=59, second=59), 22) == 11
    assert s.limit_kw_at(monday.replace(hour=18), 22) == 22
    assert s.limit_kw_at(utc(2024, 5, 11, 16), 22) == 22  # Saturday
    assert s.limit_kw_at(utc(2024, 1, 8, 16), None) == 11  # winter Monday 17:00 CET
    assert s.limit_a_at(utc(2024, 1, 8, 16), 40) == 40  # the period sets no current


def test_period_wrapping_midnight_belongs_to_the_day_it_starts():
    s = sched({"days": ["FRIDAY"], "start": "22:00", "end": "06:00", "capacity_a": 16}, tz="UTC")
    assert s.limit_a_at(utc(2024, 5, 10, 23), 63) == 16  # Friday 23:00
    assert s.limit_a_at(utc(2024, 5, 11, 2), 63) == 16  # Saturday 02:00, started Friday
    assert s.limit_a_at(utc(2024, 5, 11, 5, 59), 63) == 16
    assert s.limit_a_at(utc(2024, 5, 11, 6), 63) == 63
    assert s.limit_a_at(utc(2024, 5, 11, 23), 63) == 63  # Saturday evening: not a Friday
    assert s.limit_a_at(utc(2024, 5, 10, 2), 63) == 63  # Friday 02:00: would have started Thursday
    assert s.limit_a_at(utc(2024, 5, 9, 23), 63) == 63  # Thursday 23:00
    assert s.next_change(utc(2024, 5, 8)) == utc(2024, 5, 10, 22)
    assert s.next_change(utc(2024, 5, 10, 22)) == utc(2024, 5, 11, 6)


def test_end_at_midnight_and_overlapping_periods_take_the_lowest():
    s = sched({"start": "18:00", "end": "24:00", "capacity_kw": 30},
              {"start": "20:00", "end": "22:00", "capacity_kw": 10, "capacity_a": 20}, tz="UTC")
    assert s.overrides_at(utc(2024, 5, 6, 19)) == (30, None)
    assert s.overrides_at(utc(2024, 5, 6, 21)) == (10, 20)
    assert s.overrides_at(utc(2024, 5, 6, 23, 59)) == (30, None)
    assert s.overrides_at(utc(2024, 5, 7, 0)) == (None, None)
    assert s.next_change(utc(2024, 5, 6, 20)) == utc(2024, 5, 6, 22)
    assert s.next_change(utc(2024, 5, 6, 22)) == utc(2024, 5, 7, 0)


def test_spring_forward_period_in_the_skipped_hour_starts_at_the_jump():
    # 31 March 2024, Amsterdam: 02:00 CET -> 03:00 CEST at 01:00 UTC
    s = sched({"start": "02:30", "end": "04:00", "capacity_kw": 5})
    assert s.limit_kw_at(utc(2024, 3, 31, 0, 59), None) is None  # 01:59 CET
    assert s.limit_kw_at(utc(2024, 3, 31, 1, 0), None) == 5  # 03:00 CEST
    assert s.next_change(utc(2024, 3, 31, 0)) == utc(2024, 3, 31, 1, 0)
    assert s.next_change(utc(2024, 3, 31, 1)) == utc(2024, 3, 31, 2, 0)  # 04:00 CEST
    # the day before, the same period runs 01:30-03:00 UTC
    assert s.next_change(utc(2024, 3, 30, 0)) == utc(2024, 3, 30, 1, 30)
    assert s.next_change(utc(2024, 3, 30, 1, 30)) == utc(2024, 3, 30, 3, 0)


def test_evening_period_on_dst_days_follows_the_local_clock():
    s = sched({"start": "17:00", "end": "20:00", "capacity_kw": 11})
    assert s.next_change(utc(2024, 3, 30, 12)) == utc(2024, 3, 30, 16)  # CET
    assert s.next_change(utc(2024, 3, 31, 12)) == utc(2024, 3, 31, 15)  # CEST
    assert s.next_change(utc(2024, 10, 27, 12)) == utc(2024, 10, 27, 16)  # CET again
    assert s.next_change(utc(2024, 10, 27, 16)) == utc(2024, 10, 27, 19)


def test_fall_back_repeated_hour_applies_twice():
    # 27 October 2024: 03:00 CEST -> 02:00 CET at 01:00 UTC; 02:30-03:00 happens twice
    s = sched({"start": "02:30", "end": "03:00", "capacity_kw": 5})
    changes = []
    t = utc(2024, 10, 27, 0)
    for _ in range(4):
        t = s.next_change(t)
        changes.append(t)
    assert changes == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 0),
                       utc(2024, 10, 27, 1, 30), utc(2024, 10, 27, 2, 0)]
    assert s.limit_kw_at(utc(2024, 10, 27, 0, 45), 9) == 5
    assert s.limit_kw_at(utc(2024, 10, 27, 1, 15), 9) == 9
    assert s.limit_kw_at(utc(2024, 10, 27, 1, 45), 9) == 5


def test_next_change_is_none_when_nothing_changes():
    assert sched().next_change(utc(2024, 5, 6)) is None
    assert sched({"start": "00:00", "end": "24:00", "capacity_kw": 3}).next_change(utc(2024, 5, 6)) is None
    weekly = sched({"days": ["SUNDAY"], "start": "10:00", "end": "11:00", "capacity_kw": 3}, tz="UTC")
    assert weekly.next_change(utc(2024, 5, 6)) == utc(2024, 5, 12, 10)  # six days ahead


def test_naive_datetime_refused():
    with pytest.raises(ValueError, match="aware"):
        sched().limit_kw_at(datetime(2024, 5, 6), 1)
    with pytest.raises(ValueError, match="aware"):
        sched().next_change(datetime(2024, 5, 6))


def test_next_change_steps_match_evaluation_over_a_week():
    s = sched({"days": ["MONDAY", "FRIDAY"], "start": "22:00", "end": "06:30", "capacity_kw": 7},
              {"start": "12:15", "end": "13:00", "capacity_a": 10})
    t = utc(2024, 10, 21)  # a week ending with the autumn DST change
    end = t + timedelta(days=8)
    while True:
        nxt = s.next_change(t)
        if nxt is None or nxt > end:
            break
        probe = t + timedelta(minutes=5)
        while probe < nxt:  # constant in between
            assert s.overrides_at(probe) == s.overrides_at(t), probe
            probe += timedelta(minutes=5)
        assert s.overrides_at(nxt) != s.overrides_at(nxt - timedelta(seconds=1))
        t = nxt
    assert t > utc(2024, 10, 28)

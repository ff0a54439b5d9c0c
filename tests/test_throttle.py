"""The failed-authentication throttle on its own, with a fake clock: lockout after the failures
of a window, the doubling delay and its ceiling, addresses and doors kept apart, successes that
change nothing, forgetting, the memory bound, IPv6 /64 grouping and X-Forwarded-For only through
trusted proxies."""

from __future__ import annotations

import pytest

from evroam.services.throttle import Throttle, address_key, client_address, parse_networks, retry_after_header
from evroam.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **kw) -> Throttle:
    options = {"failures": 3, "window": 60.0, "delay": 10.0, "max_delay": 80.0, "max_entries": 100}
    options.update(kw)
    return Throttle(clock=clock, **options)


async def fail(t: Throttle, times: int, address: str = "192.0.2.1", door: str = "ocpi") -> float:
    delay = 0.0
    for _ in range(times):
        delay = await t.failed(door, address)
    return delay


async def test_failures_within_the_window_lock_the_address_out_for_the_delay():
    clock = Clock()
    t = throttle(clock)
    assert await fail(t, 2) == 0.0
    assert await t.check("ocpi", "192.0.2.1") == 0.0  # two failures: still allowed
    assert await fail(t, 1) == 10.0  # the third locks out
    assert await t.check("ocpi", "192.0.2.1") == 10.0
    clock.now += 9.5
    assert await t.check("ocpi", "192.0.2.1") == pytest.approx(0.5)
    clock.now += 0.5
    assert await t.check("ocpi", "192.0.2.1") == 0.0  # the delay has passed
    assert t.refusals_total["ocpi"] == 2 and t.failures_total["ocpi"] == 3 and t.lockouts_total["ocpi"] == 1


async def test_failures_spread_beyond_the_window_never_lock_out():
    clock = Clock()
    t = throttle(clock)
    for _ in range(20):  # a charger retrying a stale password every 31 s: 2 per window
        assert await t.failed("ocpp", "192.0.2.1") == 0.0
        clock.now += 31
    assert await t.check("ocpp", "192.0.2.1") == 0.0


async def test_the_delay_doubles_with_each_lockout_up_to_the_maximum():
    clock = Clock()
    t = throttle(clock)
    delays = []
    for _ in range(6):
        delays.append(await fail(t, 3))
        clock.now += delays[-1]  # wait it out, then guess again
    assert delays == [10.0, 20.0, 40.0, 80.0, 80.0, 80.0]


async def test_an_address_quiet_long_enough_is_forgotten():
    clock = Clock()
    t = throttle(clock)
    assert await fail(t, 3) == 10.0
    clock.now += 10 + 79  # within max_delay of the lockout's end: remembered
    assert await fail(t, 3) == 20.0
    clock.now += 20 + 81  # quiet for longer than max_delay: starts over
    assert await fail(t, 2) == 0.0
    assert await fail(t, 1) == 10.0


async def test_other_addresses_and_other_doors_are_not_affected():
    clock = Clock()
    t = throttle(clock)
    await fail(t, 3, "192.0.2.1", "ocpp")
    assert await t.check("ocpp", "192.0.2.1") > 0
    assert await t.check("ocpp", "192.0.2.2") == 0.0
    assert await t.check("admin", "192.0.2.1") == 0.0  # per door


async def test_successes_reset_nothing():
    """A success is not reported at all: a caller holding one valid credential cannot wash its
    guesses away by interleaving it, and others' counts are untouched."""
    clock = Clock()
    t = throttle(clock)
    await fail(t, 2)
    # ... the same address authenticates correctly many times (nothing is reported) ...
    assert await fail(t, 1) == 10.0
    assert await t.check("ocpi", "192.0.2.1") > 0


async def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4():
    clock = Clock()
    t = throttle(clock)
    await t.failed("ocpi", "2001:db8:1:2::1")
    await t.failed("ocpi", "2001:db8:1:2:ffff::9")
    await t.failed("ocpi", "2001:db8:1:2:abcd::7")  # three addresses of one /64: one lockout
    assert await t.check("ocpi", "2001:db8:1:2::42") > 0
    assert await t.check("ocpi", "2001:db8:1:3::1") == 0.0
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("[2001:db8::1]") == "2001:db8::/64"
    assert address_key(None) == "unknown"


async def test_memory_is_bounded_when_an_attacker_rotates_addresses():
    clock = Clock()
    t = throttle(clock, max_entries=50)
    await fail(t, 3, "198.51.100.1")  # locked out: its last failure is the oldest
    for i in range(10_000):
        await t.failed("ocpi", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        await t.failed("ocpp", f"fd00:{i:x}::1")
    assert len(t) == 50
    assert t.evicted_total == 20_000 + 1 - 50
    # the most recent ones are kept and still count
    assert await fail(t, 2, "fd00:270f::1", "ocpp") == 10.0


async def test_the_operator_sees_and_releases_throttled_addresses():
    clock = Clock()
    t = throttle(clock)
    await fail(t, 3, "192.0.2.1", "ocpp")
    await fail(t, 6, "192.0.2.9", "admin")  # two lockouts in a row (the second without waiting)
    await fail(t, 1, "192.0.2.5", "ocpp")  # one failure: not throttled
    assert await t.throttled() == [
        {"door": "admin", "address": "192.0.2.9", "retry_after": 20.0, "lockouts": 2},
        {"door": "ocpp", "address": "192.0.2.1", "retry_after": 10.0, "lockouts": 1},
    ]
    assert t.throttled_count() == {"ocpp": 1, "admin": 1}
    assert await t.release("192.0.2.1") == 1
    assert await t.check("ocpp", "192.0.2.1") == 0.0
    assert t.throttled_count() == {"admin": 1}


async def test_zero_failures_turns_throttling_off():
    t = throttle(Clock(), failures=0)
    assert await fail(t, 100) == 0.0
    assert await t.check("ocpi", "192.0.2.1") == 0.0
    assert t.failures_total["ocpi"] == 100  # still counted for /metrics


def test_forwarded_for_is_believed_only_from_trusted_proxies():
    proxies = parse_networks(["10.0.0.0/8", "192.0.2.10"])
    assert client_address("203.0.113.5", "198.51.100.1", proxies) == "203.0.113.5"  # not a proxy
    assert client_address("192.0.2.10", "198.51.100.1", proxies) == "198.51.100.1"
    # the nearest untrusted hop (what the client wrote on the left is not believed)
    assert client_address("10.1.1.1", "1.2.3.4, 198.51.100.1, 10.2.2.2", proxies) == "198.51.100.1"
    assert client_address("10.1.1.1", "garbage", proxies) == "10.1.1.1"
    assert client_address("10.1.1.1", None, proxies) == "10.1.1.1"
    assert client_address("127.0.0.1", "198.51.100.1", []) == "127.0.0.1"  # default: no proxies


def test_settings_defaults_and_trusted_proxies():
    s = Settings(trusted_proxies="10.0.0.0/8, 192.0.2.10")
    assert s.trusted_proxies == ["10.0.0.0/8", "192.0.2.10"]
    t = Throttle.from_settings(s)
    assert t.client("10.9.9.9", "198.51.100.7") == "198.51.100.7"
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies=["proxy.example.com"])
    d = Settings()
    assert (d.throttle_failures, d.throttle_window, d.throttle_delay, d.throttle_max_delay) == (10, 60.0, 5.0, 900.0)
    assert d.trusted_proxies == []


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(4.01) == "5"

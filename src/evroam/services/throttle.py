"""Throttling of failed authentication, per door and client address.

Every door that checks a secret (the chargers' Basic auth at the OCPP handshake, the partners'
OCPI tokens, the admin API token, the drivers' API keys, the metrics token, the operators'
passwords at the back office's sign-in) asks `check()` before it looks at the credentials, and
reports each wrong credential with `failed()`:

- `failures` wrong credentials from one address at one door within `window` seconds refuse that
  address at that door for `delay` seconds; each further lockout doubles the delay, up to
  `max_delay`. An address that stays quiet for `max_delay` seconds (at least `window`) after its
  last failure or lockout is forgotten (its next lockout starts at `delay` again).
- While refused, an address is refused whatever it presents, the right credentials included:
  otherwise guessing would go on at full speed and merely be answered late. Another address is
  never affected, and nothing is looked up (no database, no password hash) for a refused one.
- A success changes nothing: it neither resets the failures of its own address (a caller holding
  one valid credential could otherwise interleave it with guesses) nor touches other addresses.
  Callers that never fail (a charger reconnecting with its password, a partner's burst of
  correct requests) are never counted, so never refused.
- IPv6 addresses count per /64 (one host usually holds a whole /64); IPv4-mapped IPv6 addresses
  count as their IPv4 address.
- Memory is bounded: at most `max_entries` (door, address) pairs are kept; beyond that, the one
  whose last failure is oldest is dropped first.

The state lives in this process. Several nodes behind one address each keep their own count (an
attacker gets at most `failures` guesses per node per lockout): a shared implementation (Redis:
a counter with an expiry per door and address, the lockout as a key with a TTL) would offer the
same coroutines `check`, `failed`, `throttled` and `release`, and be chosen in app.py.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# The doors (labels of the metrics and of the operator's view).
OCPP = "ocpp"
OCPI = "ocpi"
ADMIN = "admin"
DRIVER = "driver"
METRICS = "metrics"
OPEN_DATA = "opendata"  # open data consumers' tokens (when required)
WEBHOOK = "webhook"  # payment providers' webhook signatures
PAYMENT = "payment"  # declined cards on the public pages (card testing)
WEB = "web"  # operators signing in to the back office in the browser

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class _Entry:
    count: int = 0  # failures in the current window
    first: float = 0.0  # start of the current window
    last: float = 0.0  # last failure
    lockouts: int = 0  # lockouts so far (the delay doubles with each)
    until: float = 0.0  # refused until then


def address_key(address: str | None) -> str:
    """The address failures are counted under: IPv4 as is, IPv6 by its /64, anything else (a
    Unix socket, an unknown peer) as given."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def parse_networks(values: Iterable[str]) -> list[Network]:
    """Addresses or CIDR networks (the trusted proxies); raises ValueError on a bad one."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[Network]) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
    address of `X-Forwarded-For` (read from the right) that is not a trusted proxy itself."""
    if not trusted or not peer or not forwarded_for or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop if _is_ip(hop) else peer
    return hops[0] if hops else peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _within(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def retry_after_header(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class Throttle:
    """Failed-authentication throttle of one process (see the module's documentation)."""

    def __init__(self, *, failures: int = 10, window: float = 60.0, delay: float = 5.0, max_delay: float = 900.0,
                 max_entries: int = 10_000, trusted_proxies: Iterable[str] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures  # 0: throttling off
        self.window = window
        self.delay = delay
        self.max_delay = max(max_delay, delay)
        self.max_entries = max(1, max_entries)
        self.trusted = parse_networks(trusted_proxies)
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()  # oldest last failure first
        # what /metrics shows (per door, since the process started)
        self.failures_total: defaultdict[str, int] = defaultdict(int)
        self.refusals_total: defaultdict[str, int] = defaultdict(int)
        self.lockouts_total: defaultdict[str, int] = defaultdict(int)
        self.evicted_total = 0

    @classmethod
    def from_settings(cls, settings: Any) -> Throttle:
        return cls(failures=settings.throttle_failures, window=settings.throttle_window,
                   delay=settings.throttle_delay, max_delay=settings.throttle_max_delay,
                   max_entries=settings.throttle_max_entries, trusted_proxies=settings.trusted_proxies)

    # ------------------------------------------------------------------ the client's address

    def client(self, peer: str | None, forwarded_for: str | None = None) -> str | None:
        """The address to count under for a connection from `peer` (X-Forwarded-For is read only
        when `peer` is one of the trusted proxies)."""
        return client_address(peer, forwarded_for, self.trusted)

    def http_client(self, request: Any) -> str | None:
        """The client address of an HTTP request (an ASGI request with `.client` and `.headers`)."""
        peer = request.client.host if request.client else None
        return self.client(peer, request.headers.get("x-forwarded-for"))

    # ------------------------------------------------------------------ the doors

    async def check(self, door: str, address: str | None) -> float:
        """0 when `address` may try its credentials at `door`; else the seconds it must wait
        (the refusal is counted)."""
        if self.failures <= 0:
            return 0.0
        entry = self._entries.get((door, address_key(address)))
        if entry is None:
            return 0.0
        wait = entry.until - self.clock()
        if wait <= 0:
            return 0.0
        self.refusals_total[door] += 1
        return wait

    async def failed(self, door: str, address: str | None) -> float:
        """Count a wrong credential; returns the delay when this failure locks the address out
        (else 0)."""
        self.failures_total[door] += 1
        if self.failures <= 0:
            return 0.0
        now = self.clock()
        key = (door, address_key(address))
        entry = self._entries.pop(key, None)
        if entry is not None and now - max(entry.last, entry.until) > max(self.window, self.max_delay):
            entry = None  # quiet long enough: forgotten
        if entry is None:
            while len(self._entries) >= self.max_entries:
                self._entries.popitem(last=False)
                self.evicted_total += 1
            entry = _Entry(first=now)
        self._entries[key] = entry  # now the most recent
        if now - entry.first > self.window:
            entry.count, entry.first = 0, now
        entry.count += 1
        entry.last = now
        if entry.count < self.failures:
            return 0.0
        entry.lockouts += 1
        delay = min(self.max_delay, self.delay * 2 ** min(entry.lockouts - 1, 64))
        entry.until = now + delay
        entry.count, entry.first = 0, now
        self.lockouts_total[door] += 1
        log.warning("%s: %s refused for %.0f s after %d failed authentications (lockout %d)",
                    door, key[1], delay, self.failures, entry.lockouts)
        return delay

    # ------------------------------------------------------------------ the operator's view

    async def throttled(self) -> list[dict[str, Any]]:
        """The addresses refused now, longest wait first."""
        return self.snapshot()

    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        out = [{"door": door, "address": address, "retry_after": round(entry.until - now, 1),
                "lockouts": entry.lockouts}
               for (door, address), entry in self._entries.items() if entry.until > now]
        return sorted(out, key=lambda item: -item["retry_after"])

    def throttled_count(self) -> dict[str, int]:
        """{door: addresses refused now}."""
        now = self.clock()
        counts: defaultdict[str, int] = defaultdict(int)
        for (door, _address), entry in self._entries.items():
            if entry.until > now:
                counts[door] += 1
        return dict(counts)

    async def release(self, address: str, door: str | None = None) -> int:
        """Forget an address (at one door, or at all): the operator lets it in again. Returns how
        many entries were dropped."""
        key = address_key(address)
        doomed = [k for k in self._entries if k[1] == key and (door is None or k[0] == door)]
        for k in doomed:
            del self._entries[k]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._entries)

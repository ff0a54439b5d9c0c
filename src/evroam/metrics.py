"""Prometheus metrics at `/metrics`: one registry per Platform (never the process-wide default
registry, so several platforms in one process, as in the tests, each show their own).

What is measured lives with the code that does it (the throttle keeps its counts); this module
reads it at each scrape, through `PlatformCollector`. Further metrics join here: a collector
method reading another part of the platform, or a `Counter`/`Gauge` created on `registry` and
handed to the code that updates it.

`/metrics` is open when `metrics_token` is unset (the server listens on 127.0.0.1 by default);
with `metrics_token` set, scrapers send `Authorization: Bearer <metrics_token>`, and wrong tokens
are throttled like those of every other door."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from evroam.services.throttle import ADMIN, DRIVER, METRICS, OCPI, OCPP, retry_after_header

if TYPE_CHECKING:
    from evroam.app import Platform

DOORS = (OCPP, OCPI, ADMIN, DRIVER, METRICS)


class PlatformCollector(Collector):
    """The platform's numbers, read when Prometheus scrapes."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def collect(self) -> Iterator[Metric]:
        yield from self._throttle()

    def _throttle(self) -> Iterator[Metric]:
        throttle = self.platform.throttle
        failures = CounterMetricFamily("evroam_auth_failures", "Wrong credentials presented, by door",
                                       labels=["door"])
        refusals = CounterMetricFamily("evroam_auth_throttled", "Requests and handshakes refused (HTTP 429) "
                                       "because their address had too many wrong credentials, by door",
                                       labels=["door"])
        lockouts = CounterMetricFamily("evroam_auth_lockouts", "Times an address was locked out, by door",
                                       labels=["door"])
        now = GaugeMetricFamily("evroam_auth_throttled_addresses", "Addresses refused now, by door",
                                labels=["door"])
        counts = throttle.throttled_count()
        for door in DOORS:
            failures.add_metric([door], throttle.failures_total.get(door, 0))
            refusals.add_metric([door], throttle.refusals_total.get(door, 0))
            lockouts.add_metric([door], throttle.lockouts_total.get(door, 0))
            now.add_metric([door], counts.get(door, 0))
        yield failures
        yield refusals
        yield lockouts
        yield now
        yield GaugeMetricFamily("evroam_auth_throttle_entries", "(door, address) pairs the throttle remembers",
                                value=len(throttle))


class Metrics:
    """The registry of one platform."""

    def __init__(self, platform: Platform) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(PlatformCollector(platform))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def install(app: FastAPI, platform: Platform) -> None:
    """`GET /metrics` (Prometheus text format; not part of the OpenAPI description)."""

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request):
        token = platform.settings.metrics_token
        if token:
            throttle = platform.throttle
            client = throttle.http_client(request)
            wait = await throttle.check(METRICS, client)
            if wait > 0:
                retry_after = retry_after_header(wait)
                return JSONResponse({"detail": f"too many wrong tokens from your address; retry after "
                                               f"{retry_after} s"}, status_code=429,
                                    headers={"Retry-After": retry_after})
            header = request.headers.get("authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
                if header:
                    await throttle.failed(METRICS, client)
                return JSONResponse({"detail": "send 'Authorization: Bearer <metrics_token>'"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        return Response(platform.metrics.render(), media_type=CONTENT_TYPE_LATEST)

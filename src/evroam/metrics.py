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
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from evroam.services.throttle import (
    ADMIN,
    DRIVER,
    METRICS,
    OCPI,
    OCPP,
    OPEN_DATA,
    PAYMENT,
    WEB,
    WEBHOOK,
    retry_after_header,
)

if TYPE_CHECKING:
    from evroam.app import Platform

DOORS = (OCPP, OCPI, ADMIN, DRIVER, METRICS, OPEN_DATA, WEBHOOK, PAYMENT, WEB)


class PlatformCollector(Collector):
    """The platform's numbers, read when Prometheus scrapes."""

    def __init__(self, platform: Platform, metrics: Metrics) -> None:
        self.platform = platform
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._node()
        yield from self._outbox()
        yield from self._load()
        yield from self._throttle()

    def _node(self) -> Iterator[Metric]:
        p = self.platform
        info = GaugeMetricFamily("evroam_node", "This node of the platform (always 1)", labels=["node"])
        info.add_metric([p.node], 1)
        yield info
        gateway = p._gateway
        yield GaugeMetricFamily("evroam_chargers_connected", "Chargers connected to this node",
                                value=len(gateway.connections) if gateway is not None else 0)
        yield GaugeMetricFamily("evroam_chargers_connected_platform", "Chargers connected to any node of the platform",
                                value=len(p.control.connected()))
        nodes = GaugeMetricFamily("evroam_nodes_seen", "Live nodes of the platform this node sees",
                                  value=len(self.metrics.nodes_seen))
        yield nodes
        redis = p.cluster.health().get("redis")
        yield GaugeMetricFamily("evroam_redis_up", "Redis reachable (1), unreachable (0), not used (-1)",
                                value=-1 if redis is None else 1 if redis == "ok" else 0)
        running = GaugeMetricFamily("evroam_singleton_running", "Work that runs once per platform, running on this "
                                    "node (1) or another (0)", labels=["work"])
        for singleton in p.singletons:
            running.add_metric([singleton.name], 1 if singleton.running else 0)
        yield running

    def _outbox(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("evroam_outbox_depth", "Pushes waiting to be delivered, by partner",
                                  labels=["partner"])
        oldest = GaugeMetricFamily("evroam_outbox_oldest_seconds", "Age of the oldest push waiting, by partner",
                                   labels=["partner"])
        failed = GaugeMetricFamily("evroam_outbox_failed", "Pushes a partner refused (kept for an operator), by "
                                   "partner", labels=["partner"])
        for partner, (waiting, age, refused) in self.metrics.outbox.items():
            depth.add_metric([partner], waiting)
            oldest.add_metric([partner], age)
            failed.add_metric([partner], refused)
        yield depth
        yield oldest
        yield failed

    def _load(self) -> Iterator[Metric]:
        load = self.platform.load
        yield CounterMetricFamily("evroam_load_rounds", "Load-management planning rounds run on this node",
                                  value=load.rounds)
        over = CounterMetricFamily("evroam_load_seconds_over_limit", "Seconds the limits in force of a site were "
                                   "above one of its circuits' limits (as planning rounds saw them)", labels=["site"])
        for site, seconds in sorted(load.seconds_over_limit().items()):
            over.add_metric([site], seconds)
        yield over

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


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The registry of one platform, with the measurements its code reports as it works (OCPP
    CALLs handled, commands sent to chargers) and those read at each scrape."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.outbox: dict[str, tuple[int, float, int]] = {}  # partner -> (waiting, oldest age s, failed)
        self.nodes_seen: list[str] = []
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(PlatformCollector(platform, self))
        self._calls = Histogram("evroam_ocpp_call_seconds", "Time to handle a charger's CALL, by action",
                                ["action"], registry=self.registry, buckets=LATENCY_BUCKETS)
        self._call_children: dict[str, Histogram] = {}
        self._commands = Histogram("evroam_charger_command_seconds", "Time from sending a command to a charger "
                                   "(on any node) to its answer, by command and outcome", ["command", "outcome"],
                                   registry=self.registry, buckets=LATENCY_BUCKETS)

    def ocpp_call(self, action: str, seconds: float) -> None:
        child = self._call_children.get(action)
        if child is None:
            if len(self._call_children) >= 100:  # actions are the OCPP versions' few dozen: bounded
                action = "other"
            child = self._call_children[action] = self._calls.labels(action)
        child.observe(seconds)

    def charger_command(self, command: str, outcome: str, seconds: float) -> None:
        self._commands.labels(command, outcome).observe(seconds)

    async def refresh(self) -> None:
        """Read what the scrape shows from the database and the cluster (outbox per partner)."""
        p = self.platform
        async with p.store.connect() as conn:
            partners = {x.pk: x.name for x in await p.store.partners.list(conn)}
            stats = await p.store.outbox.waiting_by_partner(conn)
        self.outbox = {partners.get(pk, str(pk)): values for pk, values in stats.items()}
        self.nodes_seen = [n.get("node") for n in await p.cluster.nodes()]

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
        await platform.metrics.refresh()
        return Response(platform.metrics.render(), media_type=CONTENT_TYPE_LATEST)

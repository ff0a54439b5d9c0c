"""Wiring: the one visible place where store, bus, services and servers are put together."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from evroam.cluster import make_cluster, new_node_id
from evroam.cluster.change_feed import ChangeFeed
from evroam.cluster.singleton import Periodic, Singleton
from evroam.events import Bus
from evroam.ocpi import sync
from evroam.ocpi.outbox import OutboxWorker, Pushes
from evroam.ocpi.partner_calls import OcpiPartnerCalls
from evroam.ocpi.registry import check_offered
from evroam.ocpi.transport.client import OcpiClient
from evroam.services.adhoc import AdHocPayments
from evroam.services.audit import AuditLog
from evroam.services.authorization import AuthorizationService
from evroam.services.availability import AvailabilityRecorder
from evroam.services.chargers import ChargerService
from evroam.services.charging import ChargingService
from evroam.services.charging_profiles import ChargingProfileService
from evroam.services.commands import CommandService
from evroam.services.driver_records import DriverRecords
from evroam.services.drivers import DriverService
from evroam.services.hub_parties import HubParties
from evroam.services.invoices import InvoiceService
from evroam.services.load_management import LoadManager
from evroam.services.locations import LocationService
from evroam.services.ocpp_log import OcppLog
from evroam.services.open_data import OpenDataService
from evroam.services.operations import ChargerOperations
from evroam.services.price_views import PriceViews
from evroam.services.received import ReceivedRecords
from evroam.services.reconciliation import ReconciliationService
from evroam.services.remote_commands import RemoteCommandService
from evroam.services.sites import SiteService
from evroam.services.statistics import Statistics
from evroam.services.subscriptions import PlanService
from evroam.services.tariffs import TariffService
from evroam.services.terminal_payments import TerminalPayments
from evroam.services.terminals import TerminalService
from evroam.services.throttle import Throttle
from evroam.services.tokens import TokenService
from evroam.services.uptime import UptimeService
from evroam.services.users import UserService
from evroam.settings import Settings
from evroam.store import Store

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

log = logging.getLogger(__name__)
T = TypeVar("T")


class Platform:
    """Everything one evroam process runs on, built from settings."""

    def __init__(self, settings: Settings) -> None:
        check_offered(settings.ocpi_versions)
        self.settings = settings
        self.node = new_node_id(settings.node_name)  # this process, among the platform's nodes
        self.store = Store(settings.database_url, own_party=(settings.country_code, settings.party_id))
        self.bus = Bus()
        self.cluster = make_cluster(self.node, self.bus, settings.redis_url, prefix=settings.redis_prefix)
        self.cluster.info.update(pid=os.getpid(), http_port=settings.http_port, ocpp_port=settings.ocpp_port)
        self.change_feed = ChangeFeed(self.store, self.bus, self.node, poll_seconds=settings.change_poll_seconds)
        self.http = httpx.AsyncClient(timeout=settings.ocpi_timeout, follow_redirects=False)
        self.ocpi = OcpiClient(self.http, country_code=settings.country_code, party_id=settings.party_id)
        # the ports the services reach partners and chargers through
        self.pushes = Pushes(self)
        self.partner_calls = OcpiPartnerCalls(self.ocpi, settings)
        self.control = self._charger_control()
        self.locations = LocationService(self.store, self.bus, settings, self.pushes)
        self.tariffs = TariffService(self.store, self.bus, settings, self.pushes)
        self.tokens = TokenService(self.store, self.bus, settings, self.pushes)
        self.driver_records = DriverRecords(self.store, self.bus, settings)
        self.invoices = InvoiceService(self.store, settings)
        self.drivers = DriverService(self.store, self.bus, settings, self.tokens, self.invoices, self.driver_records)
        self.reconciliation = ReconciliationService(self.store, self.bus, settings)
        self.received = ReceivedRecords(self.store, self.bus, settings)
        self.throttle = Throttle.from_settings(settings)  # failed authentications, every door (per process)
        self.chargers = ChargerService(self.store, self.bus, settings, self.locations, self.throttle)
        self.authorization = AuthorizationService(self.store, self.bus, settings, self.partner_calls)
        self.charging = ChargingService(self.store, self.bus, settings, self.pushes, self.authorization)
        self.ocpp_log = OcppLog(self.store, settings)
        # the OCPI payments module: Payment Terminal Providers' terminals and the payments made at them
        self.terminals = TerminalService(self.store, self.bus, settings, self.pushes)
        self.terminal_payments = TerminalPayments(self.store, self.bus, settings, self.terminals)
        self.commands = CommandService(self.store, self.bus, settings, self.pushes, self.charging, self.locations,
                                       self.control, self.terminal_payments)
        self.operations = ChargerOperations(self.store, settings, self.charging, self.control)
        self.remote_commands = RemoteCommandService(self.store, self.bus, settings, self.partner_calls,
                                                    lambda: self.operations)
        self.hub_parties = HubParties(self.store, self.bus, settings, self.pushes)  # parties a hub routes for
        self.outbox_worker = OutboxWorker(self)
        self.sites = SiteService(self.store, self.bus, settings)  # load management
        self.load = LoadManager(self.store, self.bus, settings, self.sites, self.control)
        self.charging_profiles = ChargingProfileService(self.store, self.bus, settings, self.pushes,
                                                        self.partner_calls, self.load, self.control)
        self._public_services(settings)
        self._gateway = None
        self._metrics = None
        sync.install(self)
        self.puller = sync.Puller(self)  # periodic pulls from CPO partners (eMSP, `pull_interval`)
        # Work that runs once per platform, on the node holding its lease (moves when it dies).
        self.deadlines = Periodic("command-deadlines", self.commands.resume, 5.0)
        self.singletons = [
            Singleton(self.cluster, "partner-pulls", self.puller.start, self.puller.stop),
            Singleton(self.cluster, "command-deadlines", self.deadlines.start, self.deadlines.stop),
            Singleton(self.cluster, "remote-command-deadlines", self.remote_commands.start,
                      self.remote_commands.stop),
        ]
        if "CPO" in settings.roles:
            self.singletons.append(Singleton(self.cluster, "load-management", self.load.start, self.load.stop))
            self.singletons.extend(self._public_singletons)
        # the back office in the browser: accounts, audit log, statistics, prices explained
        self.audit = AuditLog(self.store)
        self.users = UserService(self.store, settings, self.throttle, self.audit)
        self.statistics = Statistics(self.store, settings)
        self.price_views = PriceViews(self.store, settings)
        self.availability = AvailabilityRecorder(self.store, self.bus, self.node)
        self.workers_running = False

    def _public_services(self, settings: Settings) -> None:
        """Open data, ad-hoc card payment (the provider and mailer adapters), and their work that
        runs once per platform (settling payments)."""
        from evroam.payments import make_mailer, make_provider

        self.open_data = OpenDataService(self.store, self.bus, settings)
        self.plans = PlanService(self.store, self.bus, settings)  # drivers' subscriptions
        self.uptime = UptimeService(self.store, settings)  # AFIR uptime
        self.adhoc = AdHocPayments(self.store, self.bus, settings, self.open_data, self.operations, self.charging,
                                   make_provider(settings), make_mailer(settings), self._render_receipt)
        self.payment_sweeps = Periodic("ad-hoc-payments", self._sweep_payments, 5.0)
        self._public_singletons = [Singleton(self.cluster, "ad-hoc-payments", self.payment_sweeps.start,
                                             self.payment_sweeps.stop)]
        if settings.nap_table_url or settings.nap_status_url:
            from evroam.public.nap import NapPusher

            self.nap = NapPusher(self)  # our DATEX II to a National Access Point
            self._public_singletons.append(Singleton(self.cluster, "nap-push", self.nap.start, self.nap.stop))

    async def _sweep_payments(self) -> int:
        """Settle what events left of payments: card payments, then payments at terminals."""
        return await self.adhoc.sweep() + await self.terminal_payments.sweep()

    def _render_receipt(self, receipt: dict) -> tuple[str, str]:
        from evroam.public.rendering import render_receipt

        return render_receipt(receipt, self.settings.business_name)

    def _charger_control(self):
        from evroam.ocpp.control import OcppChargerControl

        return OcppChargerControl(lambda: self._gateway, self.cluster,
                                  observe=lambda *measured: self.metrics.charger_command(*measured))

    @property
    def gateway(self):
        """The OCPP gateway (built on first use: CLI commands never need it). Services send
        CALLs to chargers through `gateway.call(charger_id, payload)`."""
        if self._gateway is None:
            from evroam.ocpp.gateway import Gateway

            self._gateway = Gateway(self)
        return self._gateway

    @property
    def metrics(self):
        """The platform's Prometheus registry (`/metrics`; see metrics.py), built on first use."""
        if self._metrics is None:
            from evroam.metrics import Metrics

            self._metrics = Metrics(self)
        return self._metrics

    async def start(self) -> None:
        """Migrate the database; call before serving or using services. Changes made from now on
        reach the platform's servers (the change feed)."""
        await self.store.migrate()
        await self.change_feed.start(read=False)

    async def start_workers(self) -> None:
        """Serve as a node of the platform: join the other nodes, hear their changes, deliver
        the outbox, and take part in the work that runs once per platform."""
        await self.cluster.start()
        await self.change_feed.start(read=True)
        self.outbox_worker.start()
        for singleton in self.singletons:
            await singleton.launch()
        self.workers_running = True

    async def stop_workers(self) -> None:
        if not self.workers_running:
            return
        self.workers_running = False
        for singleton in self.singletons:
            await singleton.shutdown()
        await self.outbox_worker.stop()

    async def close(self) -> None:
        await self.stop_workers()
        await self.commands.close()
        await self.load.stop()
        await self.charging_profiles.close()
        if self._gateway is not None:
            await self._gateway.stop()
        await self.charging.close()
        await self.ocpp_log.flush()
        await self.bus.drain()
        await self.availability.close()
        await self.change_feed.stop()
        await self.cluster.stop()
        await self.http.aclose()
        await self.store.close()


def create_app(platform: Platform, *, run_workers: bool = True) -> FastAPI:
    """The HTTP application: OCPI, admin API, health. With `run_workers`, the outbox worker
    runs for the application's lifetime. (The web stack is imported here, not at module level,
    so that CLI commands, which only need the Platform, start fast.)"""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from sqlalchemy import text
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import Request

    import evroam
    from evroam import metrics, public
    from evroam.backoffice import api as admin_api
    from evroam.backoffice import public as admin_public
    from evroam.backoffice import sites as admin_sites
    from evroam.backoffice import terminals as admin_terminals
    from evroam.backoffice import throttle as admin_throttle
    from evroam.backoffice.auth import ensure_admin_token
    from evroam.driverapi import routes as driver_api
    from evroam.http_limits import BodyLimit
    from evroam.ocpi.cdrs import receiver as cdrs_receiver
    from evroam.ocpi.cdrs import sender as cdrs_sender
    from evroam.ocpi.chargingprofiles import receiver as chargingprofiles_receiver
    from evroam.ocpi.chargingprofiles import sender as chargingprofiles_sender
    from evroam.ocpi.commands import receiver as commands_receiver
    from evroam.ocpi.commands import results as commands_results
    from evroam.ocpi.credentials import routes as credentials_routes
    from evroam.ocpi.hubclientinfo import receiver as hubclientinfo_receiver
    from evroam.ocpi.locations import receiver as locations_receiver
    from evroam.ocpi.locations import sender as locations_sender
    from evroam.ocpi.payments import receiver as payments_receiver
    from evroam.ocpi.server import install_error_handlers, invalidate_on_changes
    from evroam.ocpi.sessions import receiver as sessions_receiver
    from evroam.ocpi.sessions import sender as sessions_sender
    from evroam.ocpi.tariffs import receiver as tariffs_receiver
    from evroam.ocpi.tariffs import sender as tariffs_sender
    from evroam.ocpi.tokens import receiver as tokens_receiver
    from evroam.ocpi.tokens import sender as tokens_sender
    from evroam.ocpi.transport import status as ocpi_status
    from evroam.ocpi.transport.envelope import ocpi_response
    from evroam.ocpi.transport.headers import RequestIdMiddleware
    from evroam.ocpi.versions import routes as versions_routes

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if run_workers:
            await platform.start_workers()
        try:
            yield
        finally:
            if run_workers:
                await platform.stop_workers()
            await platform.bus.drain()

    app = FastAPI(
        title="evroam",
        version=evroam.__version__,
        description="OCPI roaming (CPO and eMSP) and the evroam admin API.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.admin_token = ensure_admin_token(platform.settings)
    install_error_handlers(app)
    invalidate_on_changes(platform.store, platform.bus)

    async def too_large(scope, message: str):
        """413 in the form of the API the path belongs to: the OCPI envelope (2001, invalid
        parameters), else the application's own HTTP error form (driver API, admin API)."""
        if scope["path"].startswith("/ocpi"):
            return ocpi_response(status_code=ocpi_status.INVALID_PARAMETERS, message=message, http_status=413)
        answer = app.exception_handlers[StarletteHTTPException](Request(scope), StarletteHTTPException(413, message))
        return await answer if inspect.isawaitable(answer) else answer

    settings = platform.settings
    app.add_middleware(BodyLimit, limit=settings.http_max_body_bytes, answer=too_large,
                       limits=[("/admin", settings.admin_max_body_bytes)])
    app.add_middleware(RequestIdMiddleware)  # (outside BodyLimit: its 413s carry the request ids too)
    app.include_router(versions_routes.router)
    app.include_router(credentials_routes.router)
    app.include_router(hubclientinfo_receiver.router)
    roles = platform.settings.roles
    if "CPO" in roles:
        app.include_router(locations_sender.router)
        app.include_router(tariffs_sender.router)
        app.include_router(sessions_sender.router)
        app.include_router(cdrs_sender.router)
        app.include_router(tokens_receiver.router)
        app.include_router(commands_receiver.router)
        app.include_router(chargingprofiles_receiver.router)
        app.include_router(payments_receiver.router)  # OCPI 2.3.0: payment terminal providers
    if "EMSP" in roles:
        app.include_router(locations_receiver.router)
        app.include_router(tariffs_receiver.router)
        app.include_router(sessions_receiver.router)
        app.include_router(cdrs_receiver.router)
        app.include_router(tokens_sender.router)
        app.include_router(commands_results.router)
        app.include_router(chargingprofiles_sender.router)
    app.include_router(admin_api.router)
    app.include_router(admin_sites.router)
    app.include_router(admin_throttle.router)
    app.include_router(admin_public.router)  # open data consumers, plans, uptime, payments
    app.include_router(admin_terminals.router)  # payment terminals of PTPs (OCPI payments module)
    if "CPO" in roles:
        public.install(app)  # open data, the drivers' pages, ad-hoc payment
    if "EMSP" in roles:
        driver_api.install(app)
    metrics.install(app, platform)  # GET /metrics (Prometheus)
    from evroam.web import install as install_back_office

    install_back_office(app, platform)  # the operators' web UI at / (docs/ui.md)

    @app.get("/health", tags=["health"], summary="Liveness and database check")
    async def health():
        try:
            async with platform.store.connect() as conn:
                await conn.execute(text("SELECT 1"))
            db = "ok"
        except Exception as exc:  # reported, not raised: this endpoint must always answer
            db = f"error: {exc}"
        cluster = platform.cluster.health()
        degraded = db != "ok" or (cluster["redis"] not in (None, "ok"))
        return {
            "status": "degraded" if degraded else "ok",
            "version": evroam.__version__,
            "database": db,
            "party": f"{platform.settings.country_code}/{platform.settings.party_id}",
            "roles": platform.settings.roles,
            "node": platform.node,
            "nodes": [n.get("node") for n in await platform.cluster.nodes()],
            "cluster": cluster,
            "singletons": {s.name: s.running for s in platform.singletons},
        }

    return app


def http_config(app: FastAPI, settings: Settings, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration of the HTTP port: its HTTP/1.1 protocol keeps the request bounds
    (`http_header_timeout`, `http_body_timeout`, `http_max_header_bytes`; see `http_limits`).
    `options` are further `uvicorn.Config` arguments (host and port, log level, shutdown time)."""
    import uvicorn

    from evroam.http_limits import timed_protocol

    options.setdefault("log_level", settings.log_level.lower())
    protocol = timed_protocol(settings.http_header_timeout, settings.http_body_timeout, settings.http_max_header_bytes)
    # proxy_headers=False: the client address is the peer's (X-Forwarded-For is not taken on trust)
    return uvicorn.Config(app, http=protocol, access_log=False, lifespan="on", proxy_headers=False, **options)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` (e.g. `serve(...)`) on uvloop, the event loop of the stack (both the HTTP and
    the OCPP server run on it), or on asyncio's own loop where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def serve(settings: Settings, *, demo_data: bool = False, ready: asyncio.Event | None = None,
                reuse_port: bool = False) -> None:
    """Run evroam until interrupted: migrate, optionally load demo data, serve HTTP and (when we
    are a CPO) the OCPP WebSocket server, in one process. With `reuse_port`, other processes may
    listen on the same ports (`evroam serve --workers N`)."""
    import uvicorn

    from evroam.demo import load_demo

    platform = Platform(settings)
    await platform.start()
    if demo_data and await load_demo(platform):
        log.info("demo data loaded: 3 locations, 8 EVSEs, 2 tariffs")
    if not await platform.users.list():
        if demo_data:  # a platform to look around in at once: an account of its own, said once here
            import secrets

            password = secrets.token_urlsafe(12)
            await platform.users.add("admin", "admin", password, actor="demo data")
            print(f"\n  back office    {settings.base_url}/  user admin, password {password}\n"
                  "                 (a demo account: `evroam users passwd admin --password-stdin` changes it)\n",
                  flush=True)
        else:
            log.warning("the back office at / has no accounts yet: evroam users add NAME --role admin "
                        "--password-stdin")
    app = create_app(platform)
    server = uvicorn.Server(http_config(app, settings, host=settings.host, port=settings.http_port,
                                       timeout_graceful_shutdown=10))
    app.state.http_server = server  # (long-lived responses, the back office's live events, end when it stops)
    sockets = None
    try:
        if reuse_port:
            from evroam.workers import reusable_socket

            sockets = [reusable_socket(settings.host, settings.http_port)]
        if "CPO" in settings.roles:
            ocpp_sock = reusable_socket(settings.host, settings.ocpp_port) if reuse_port else None
            await platform.gateway.start(sock=ocpp_sock)
            scheme = "wss" if settings.ocpp_tls_cert else "ws"
            log.info("OCPP on %s://%s:%s/ocpp/{charge_point_id}", scheme, settings.host, settings.ocpp_port)
        await server.serve(sockets=sockets)
    finally:
        await platform.close()

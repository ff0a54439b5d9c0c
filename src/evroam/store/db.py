"""The Store: one async engine, migrations, transactions, and the repositories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from evroam.store.audit import AuditRepository
from evroam.store.cdr_checks import CdrCheckRepository
from evroam.store.cdr_credits import CdrCreditRepository
from evroam.store.changes import ChangeRepository
from evroam.store.chargers import ChargerRepository
from evroam.store.charging import ChargingRecordRepository, TransactionRepository
from evroam.store.commands import ReceivedCommandRepository, RemoteStartRepository
from evroam.store.drivers import DriverRecordRepository, DriverRepository
from evroam.store.listings import ListingRepository
from evroam.store.objects import ObjectRepository
from evroam.store.ocpp_log import OcppLogRepository
from evroam.store.open_data import ConsumerRepository
from evroam.store.outbox import OutboxRepository
from evroam.store.partners import PartnerRepository
from evroam.store.payments import PaymentRepository
from evroam.store.plans import PlanRepository
from evroam.store.remote_commands import RemoteCommandRepository
from evroam.store.reservations import ReservationRepository
from evroam.store.statistics import StatisticsRepository
from evroam.store.tables import cdrs, locations, sessions, tariffs
from evroam.store.terminals import FacRepository, TerminalPaymentRepository, TerminalRepository
from evroam.store.tokens import TokenRepository
from evroam.store.uptime import MaintenanceRepository, StatusLogRepository
from evroam.store.users import UserRepository

MIGRATIONS = Path(__file__).with_name("migrations")
#: the PostgreSQL advisory lock held while migrating: nodes starting together migrate once
MIGRATION_LOCK = 0x65766D67  # "evmg"


class Store:
    def __init__(self, url: str, *, echo: bool = False, own_party: tuple[str, str] | None = None) -> None:
        """`own_party`: our (country_code, party_id), which no partner may act for."""
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict = {"echo": echo}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.partners = PartnerRepository(own_party)
        self.locations = ObjectRepository(locations)
        self.tariffs = ObjectRepository(tariffs)
        self.outbox = OutboxRepository()
        self.chargers = ChargerRepository()
        self.transactions = TransactionRepository()
        self.sessions = ChargingRecordRepository(sessions)
        self.cdrs = ChargingRecordRepository(cdrs)
        self.tokens = TokenRepository()
        self.ocpp_log = OcppLogRepository()
        self.reservations = ReservationRepository()
        self.drivers = DriverRepository()
        self.driver_records = DriverRecordRepository()
        self.cdr_checks = CdrCheckRepository()
        self.cdr_credits = CdrCreditRepository()
        self.received_commands = ReceivedCommandRepository()
        self.remote_starts = RemoteStartRepository()
        self.remote_commands = RemoteCommandRepository()
        self.changes = ChangeRepository()
        # open data, AFIR uptime, ad-hoc payments, subscription plans
        self.status_log = StatusLogRepository()
        self.maintenance = MaintenanceRepository()
        self.open_data_consumers = ConsumerRepository()
        self.payments = PaymentRepository()
        self.plans = PlanRepository()
        # the back office: accounts, audit log, statistics, pages of long lists
        self.users = UserRepository()
        self.audit = AuditRepository()
        self.statistics = StatisticsRepository()
        self.listings = ListingRepository()
        # the OCPI payments module: PTPs' terminals, payments at them, financial advice confirmations
        self.terminals = TerminalRepository()
        self.terminal_payments = TerminalPaymentRepository()
        self.financial_advice = FacRepository()
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to call on every start, and by
        several processes at once: one migrates, the others wait for it and find the schema
        up to date)."""
        if self.dialect == "postgresql":
            async with self.engine.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                await conn.run_sync(_upgrade)
            return
        lock = self._migration_lock_file()
        if lock is None:
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade)
            return
        handle = await asyncio.to_thread(_locked, lock)
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade)
        finally:
            handle.close()

    def _migration_lock_file(self) -> Path | None:
        database = make_url(self.url).database or ""
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        path = Path(database).expanduser().resolve()
        return path.with_name(path.name + ".migrating")

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any error. On SQLite,
        writers in this process are serialised so they never fight over the file lock."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection."""
        async with self.engine.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()


def _locked(path: Path):
    """An exclusive lock on `path` (held until the returned file is closed)."""
    import fcntl

    handle = open(path, "a")  # noqa: SIM115 - closed by the caller, which releases the lock
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _upgrade(sync_conn) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")

"""Table definitions. Migrations in `migrations/versions` create exactly these (a test checks
that the migrated schema matches this metadata)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from evroam.store.types import UTCDateTime

metadata = MetaData()

# Autoincrementing 64-bit keys on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
PK = BigInteger().with_variant(Integer(), "sqlite")

partners = Table(
    "partners",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    # INVITED (token A handed out) -> REGISTERED -> UNREGISTERED
    Column("status", String(20), nullable=False),
    Column("version", String(10)),
    Column("versions_url", String(255)),
    Column("version_url", String(255)),
    # Tokens the partner presents to us are kept only as SHA-256 hashes: the registration token
    # (A, or our B while we register with them) and, once registered, its token.
    Column("registration_token_hash", String(64), index=True),
    Column("token_hash", String(64), index=True),
    Column("outgoing_token", String(64)),  # the token we present to the partner (we must send it)
    Column("outgoing_encoding", String(10)),  # "base64" | "plain": how the partner wants it
    Column("roles", Text, nullable=False, default="[]"),  # JSON list of CredentialsRole
    Column("endpoints", Text, nullable=False, default="[]"),  # JSON list of Endpoint
    Column("last_error", Text),
    Column("sync_state", Text, nullable=False, default="{}"),  # JSON {module: last pull start}
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


def _object_table(name: str, *extra) -> Table:
    """Client-owned OCPI objects, stored per owning party. `data` is the object's JSON in the
    model's (2.2.1) form; `pk` gives the stable creation order used for paging. `extra`:
    further columns and indexes of one kind of object."""
    return Table(
        name,
        metadata,
        Column("pk", PK, primary_key=True, autoincrement=True),
        Column("country_code", String(2), nullable=False),
        Column("party_id", String(3), nullable=False),
        Column("id", String(39), nullable=False),
        Column("data", Text, nullable=False),
        Column("last_updated", UTCDateTime, nullable=False),
        UniqueConstraint("country_code", "party_id", "id", name=f"uq_{name}_owner_id"),
        Index(f"ix_{name}_owner_pk", "country_code", "party_id", "pk"),
        Index(f"ix_{name}_owner_updated", "country_code", "party_id", "last_updated"),
        *extra,
    )


locations = _object_table("locations")
tariffs = _object_table("tariffs")

outbox = Table(
    "outbox",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("partner_pk", PK, nullable=False),
    Column("module", String(30), nullable=False),  # OCPI module identifier, e.g. "locations"
    Column("object_key", String(150), nullable=False),  # per-object order is kept on this key
    Column("method", String(10), nullable=False),
    Column("path", String(255), nullable=False),  # appended to the partner's module URL
    Column("body", Text),
    # pending -> delivered | failed (the partner refused it as invalid: kept for an operator)
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    Index("ix_outbox_pending", "status", "next_attempt_at"),
    Index("ix_outbox_object", "partner_pk", "object_key", "pk"),
)


# ---------------------------------------------------------------------------- charging (OCPP side)


def _charging_record_table(name: str) -> Table:
    """Sessions and CDRs: OCPI objects per owning party (the CPO), with the party of the token's
    eMSP beside them, so a sender lists each eMSP only its own drivers' records."""
    return _object_table(
        name,
        Column("emsp_country_code", String(2)),
        Column("emsp_party_id", String(3)),
        Index(f"ix_{name}_emsp", "country_code", "party_id", "emsp_country_code", "emsp_party_id", "pk"),
    )


sessions = _charging_record_table("sessions")
cdrs = _charging_record_table("cdrs")

# Drivers' tokens: ours (we are the eMSP) and those eMSP partners push to us (we are the CPO).
tokens = Table(
    "tokens",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("country_code", String(2), nullable=False),
    Column("party_id", String(3), nullable=False),
    Column("uid", String(36), nullable=False),
    Column("type", String(20), nullable=False),
    Column("data", Text, nullable=False),
    Column("last_updated", UTCDateTime, nullable=False),
    UniqueConstraint("country_code", "party_id", "uid", "type", name="uq_tokens_owner_uid_type"),
    Index("ix_tokens_uid", "uid"),
    Index("ix_tokens_owner_pk", "country_code", "party_id", "pk"),
)

chargers = Table(
    "chargers",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),  # the charge point identity in the URL
    Column("password_hash", String(255)),  # scrypt with a per-charger salt; None: no password set
    # ACCEPTED | PENDING (connected unknown, waiting for an operator) | REJECTED
    Column("status", String(12), nullable=False),
    Column("location_id", String(36)),
    Column("evses", Text, nullable=False, default="{}"),  # JSON {"1": "EVSE_UID", ...}
    Column("ocpp_version", String(10)),
    Column("boot", Text),  # JSON: vendor, model, serial number, firmware of the last boot
    Column("state", Text, nullable=False, default="{}"),  # JSON: last OCPP status per EVSE number
    Column("last_seen_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per OCPP transaction: the charger's view (ids, meter readings) linked to the OCPI session.
ocpp_transactions = Table(
    "ocpp_transactions",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("transaction_id", String(64), nullable=False),  # 1.6: the integer we gave; 2.x: the charger's
    Column("start_key", String(255)),  # 1.6: what makes a resent StartTransaction the same one
    Column("evse_number", Integer, nullable=False),
    Column("connector_number", Integer, nullable=False),
    Column("id_tag", String(64)),
    Column("session_id", String(36)),  # None while no OCPI session exists (refused or not yet authorized)
    Column("status", String(12), nullable=False),  # ACTIVE | COMPLETED | REFUSED
    Column("started_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime),
    Column("meter_start_wh", Float),
    Column("meter_stop_wh", Float),
    Column("state", Text, nullable=False, default="{}"),  # JSON: token, snapshots, seq numbers, pushes
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("charger_id", "transaction_id", name="uq_ocpp_transactions_charger_tx"),
    UniqueConstraint("charger_id", "start_key", name="uq_ocpp_transactions_start_key"),
    Index("ix_ocpp_transactions_session", "session_id"),
)

# Every meter reading of a transaction, once: a resent reading hits the unique key and is ignored.
ocpp_meter_values = Table(
    "ocpp_meter_values",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("transaction_pk", PK, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("measurand", String(64), nullable=False),
    Column("phase", String(10), nullable=False),  # "" when the reading is not per phase
    Column("context", String(40), nullable=False),
    Column("value", Float, nullable=False),  # normalised: Wh, W, A, percent
    UniqueConstraint("transaction_pk", "measurand", "phase", "timestamp", name="uq_ocpp_meter_values_reading"),
)

# The append-only transaction log: every OCPP frame in and out.
ocpp_log = Table(
    "ocpp_log",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("direction", String(3), nullable=False),  # "in" (from the charger) | "out"
    Column("message_type", Integer),  # 2 CALL, 3 CALLRESULT, 4 CALLERROR; None: not parseable
    Column("unique_id", String(64)),
    Column("action", String(64)),
    Column("frame", Text, nullable=False),
    Index("ix_ocpp_log_charger_at", "charger_id", "at"),
    Index("ix_ocpp_log_at", "at"),
)

# Reservations made through OCPI RESERVE_NOW: the eMSP's reservation_id (a string, unique per
# eMSP party) and the integer reservationId the charger knows (this row's pk).
reservations = Table(
    "reservations",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("country_code", String(2), nullable=False),  # the eMSP party of the token
    Column("party_id", String(3), nullable=False),
    Column("reservation_id", String(36), nullable=False),
    Column("partner_pk", PK),  # the partner that asked (None: made by an operator)
    Column("charger_id", String(48), nullable=False),
    Column("evse_number", Integer),  # None: any EVSE of the charger
    Column("status", String(20), nullable=False),  # REQUESTED | ACCEPTED | REJECTED | CANCELED | ...
    Column("expiry_date", UTCDateTime, nullable=False),
    Column("data", Text, nullable=False, default="{}"),  # JSON: token, location, evse uid, reference
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("country_code", "party_id", "reservation_id", name="uq_reservations_party_id"),
)

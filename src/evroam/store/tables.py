"""Table definitions. Migrations in `migrations/versions` create exactly these (a test checks
that the migrated schema matches this metadata)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

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


def _object_table(name: str) -> Table:
    """Client-owned OCPI objects, stored per owning party. `data` is the object's JSON in the
    model's (2.2.1) form; `pk` gives the stable creation order used for paging."""
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

"""The back office in the browser: accounts, web sessions, the audit log, the statistics' facts
(one row per CDR, their sums per day and per charger and month, charger connections, faults),
and a partial index of the running transactions.

Revision ID: 0011_users
Revises: 0010_versions
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0011_users"
down_revision = "0010_versions"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_ocpp_transactions_active", "ocpp_transactions", ["pk"],
                    sqlite_where=sa.text("status = 'ACTIVE'"), postgresql_where=sa.text("status = 'ACTIVE'"))
    op.create_table(
        "users",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("last_sign_in_at", UTCDateTime),
    )
    op.create_table(
        "web_sessions",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_pk", PK, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_pk"])
    op.create_table(
        "audit_log",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(10)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255)),
        sa.Column("detail", sa.Text),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("address", sa.String(64)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "session_facts",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(36), nullable=False, unique=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("evse_number", sa.Integer, nullable=False),
        sa.Column("location_id", sa.String(36)),
        sa.Column("emsp_country_code", sa.String(2)),
        sa.Column("emsp_party_id", sa.String(3)),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("hour_of_week", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("kwh", sa.Float, nullable=False),
        sa.Column("cost_excl_vat", sa.BigInteger, nullable=False),
        sa.Column("cost_incl_vat", sa.BigInteger),
        sa.Column("currency", sa.String(3), nullable=False),
    )
    op.create_index("ix_session_facts_day", "session_facts", ["day", "charger_id", "seconds", "kwh"])
    op.create_index("ix_session_facts_charger", "session_facts", ["charger_id", "day"])
    op.create_table(
        "session_stats",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("hour_of_week", sa.Integer, nullable=False),
        sa.Column("emsp_country_code", sa.String(2), nullable=False),
        sa.Column("emsp_party_id", sa.String(3), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("kwh", sa.Float, nullable=False),
        sa.Column("cost_excl_vat", sa.BigInteger, nullable=False),
        sa.Column("cost_incl_vat", sa.BigInteger, nullable=False),
        sa.Column("incl_unknown", sa.Integer, nullable=False),
        sa.UniqueConstraint("day", "hour_of_week", "emsp_country_code", "emsp_party_id", "currency",
                            name="uq_session_stats_key"),
    )
    op.create_table(
        "charger_months",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("kwh", sa.Float, nullable=False),
        sa.UniqueConstraint("month", "charger_id", name="uq_charger_months_key"),
    )
    op.create_index("ix_charger_months_cover", "charger_months", ["month", "charger_id", "sessions", "seconds", "kwh"])
    op.create_table(
        "charger_connections",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("node", sa.String(64)),
        sa.Column("connected_at", UTCDateTime, nullable=False),
        sa.Column("disconnected_at", UTCDateTime),
    )
    op.create_index("ix_charger_connections_charger", "charger_connections", ["charger_id", "connected_at"])
    op.create_index("ix_charger_connections_period", "charger_connections",
                    ["connected_at", "disconnected_at", "charger_id"])
    op.create_table(
        "charger_faults",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("charger_id", sa.String(48)),
        sa.Column("location_id", sa.String(36)),
        sa.Column("evse_uid", sa.String(36)),
        sa.Column("status", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("charger_faults")
    op.drop_index("ix_charger_connections_period", "charger_connections")
    op.drop_index("ix_charger_connections_charger", "charger_connections")
    op.drop_table("charger_connections")
    op.drop_index("ix_charger_months_cover", "charger_months")
    op.drop_table("charger_months")
    op.drop_table("session_stats")
    op.drop_index("ix_session_facts_charger", "session_facts")
    op.drop_index("ix_session_facts_day", "session_facts")
    op.drop_table("session_facts")
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_web_sessions_user", "web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("users")
    op.drop_index("ix_ocpp_transactions_active", "ocpp_transactions")

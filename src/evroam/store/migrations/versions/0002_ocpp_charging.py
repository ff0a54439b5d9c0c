"""Chargers, OCPP transactions and meter values, the OCPP message log, sessions, CDRs and tokens.

Revision ID: 0002_ocpp_charging
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0002_ocpp_charging"
down_revision = "0001"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _charging_record_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("id", sa.String(39), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.Column("emsp_country_code", sa.String(2)),
        sa.Column("emsp_party_id", sa.String(3)),
        sa.UniqueConstraint("country_code", "party_id", "id", name=f"uq_{name}_owner_id"),
    )
    op.create_index(f"ix_{name}_owner_pk", name, ["country_code", "party_id", "pk"])
    op.create_index(f"ix_{name}_owner_updated", name, ["country_code", "party_id", "last_updated"])
    op.create_index(f"ix_{name}_emsp", name,
                    ["country_code", "party_id", "emsp_country_code", "emsp_party_id", "pk"])


def upgrade() -> None:
    _charging_record_table("sessions")
    _charging_record_table("cdrs")
    op.create_table(
        "tokens",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("country_code", "party_id", "uid", "type", name="uq_tokens_owner_uid_type"),
    )
    op.create_index("ix_tokens_uid", "tokens", ["uid"])
    op.create_index("ix_tokens_owner_pk", "tokens", ["country_code", "party_id", "pk"])
    op.create_table(
        "chargers",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(48), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("location_id", sa.String(36)),
        sa.Column("evses", sa.Text, nullable=False),
        sa.Column("ocpp_version", sa.String(10)),
        sa.Column("boot", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("last_seen_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "ocpp_transactions",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=False),
        sa.Column("start_key", sa.String(255)),
        sa.Column("evse_number", sa.Integer, nullable=False),
        sa.Column("connector_number", sa.Integer, nullable=False),
        sa.Column("id_tag", sa.String(64)),
        sa.Column("session_id", sa.String(36)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("stopped_at", UTCDateTime),
        sa.Column("meter_start_wh", sa.Float),
        sa.Column("meter_stop_wh", sa.Float),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("charger_id", "transaction_id", name="uq_ocpp_transactions_charger_tx"),
        sa.UniqueConstraint("charger_id", "start_key", name="uq_ocpp_transactions_start_key"),
    )
    op.create_index("ix_ocpp_transactions_session", "ocpp_transactions", ["session_id"])
    op.create_table(
        "ocpp_meter_values",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("transaction_pk", PK, nullable=False),
        sa.Column("timestamp", UTCDateTime, nullable=False),
        sa.Column("measurand", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(10), nullable=False),
        sa.Column("context", sa.String(40), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.UniqueConstraint("transaction_pk", "measurand", "phase", "timestamp",
                            name="uq_ocpp_meter_values_reading"),
    )
    op.create_table(
        "ocpp_log",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("message_type", sa.Integer),
        sa.Column("unique_id", sa.String(64)),
        sa.Column("action", sa.String(64)),
        sa.Column("frame", sa.Text, nullable=False),
    )
    op.create_index("ix_ocpp_log_charger_at", "ocpp_log", ["charger_id", "at"])
    op.create_index("ix_ocpp_log_at", "ocpp_log", ["at"])


def downgrade() -> None:
    for name in ("ocpp_log", "ocpp_meter_values", "ocpp_transactions", "chargers", "tokens", "cdrs", "sessions"):
        op.drop_table(name)

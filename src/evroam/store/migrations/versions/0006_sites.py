"""Load management: sites, circuits, capacity schedules, allocations and charging profiles sent.

Revision ID: 0006_sites
Revises: 0005_emsp
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0006_sites"
down_revision = "0005_emsp"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("location_id", sa.String(36)),
        sa.Column("capacity_kw", sa.Float),
        sa.Column("capacity_a", sa.Float),
        sa.Column("phases", sa.Integer, nullable=False),
        sa.Column("voltage_v", sa.Float, nullable=False),
        sa.Column("schedule", sa.Text),
        sa.Column("fallback_a", sa.Float),
        sa.Column("start_a", sa.Float),
        sa.Column("chargers", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "circuits",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(36), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("limit_a", sa.Float),
        sa.Column("limit_kw", sa.Float),
        sa.Column("phases", sa.Integer, nullable=False),
        sa.Column("chargers", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("site_id", "id", name="uq_circuits_site_id"),
    )
    op.create_table(
        "charging_profiles_sent",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("evse_number", sa.Integer, nullable=False),
        sa.Column("transaction_id", sa.String(64)),
        sa.Column("session_id", sa.String(36)),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("purpose", sa.String(12), nullable=False),
        sa.Column("unit", sa.String(1)),
        sa.Column("limit", sa.Float),
        sa.Column("limit_a", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.Column("answered_at", UTCDateTime),
    )
    op.create_index("ix_charging_profiles_sent_charger", "charging_profiles_sent", ["charger_id", "evse_number", "pk"])
    op.create_index("ix_charging_profiles_sent_at", "charging_profiles_sent", ["sent_at"])
    op.create_table(
        "smart_sessions",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(36), nullable=False, unique=True),
        sa.Column("partner_pk", PK),
        sa.Column("preferences", sa.Text),
        sa.Column("profile", sa.Text),
        sa.Column("profile_set_at", UTCDateTime),
        sa.Column("active_pushed", sa.Text),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "charging_profile_requests",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), unique=True),
        sa.Column("partner_pk", PK, nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("request", sa.Text),
        sa.Column("response", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("answered_at", UTCDateTime),
    )
    op.create_index("ix_charging_profile_requests_session", "charging_profile_requests",
                    ["partner_pk", "session_id", "pk"])


def downgrade() -> None:
    op.drop_index("ix_charging_profile_requests_session", "charging_profile_requests")
    op.drop_table("charging_profile_requests")
    op.drop_table("smart_sessions")
    op.drop_index("ix_charging_profiles_sent_at", "charging_profiles_sent")
    op.drop_index("ix_charging_profiles_sent_charger", "charging_profiles_sent")
    op.drop_table("charging_profiles_sent")
    op.drop_table("circuits")
    op.drop_table("sites")

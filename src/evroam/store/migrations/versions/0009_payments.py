"""Open data (published locations), AFIR uptime (EVSE status history, planned maintenance), ad-hoc
payments and drivers' subscription plans.

Revision ID: 0009_payments
Revises: 0008_cluster
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0009_payments"
down_revision = "0008_cluster"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        batch.add_column(sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()))
    # the flag of the locations stored so far, from their JSON
    bind = op.get_bind()
    import orjson

    rows = bind.execute(sa.text("SELECT pk, data FROM locations")).fetchall()
    for pk, data in rows:
        if orjson.loads(data).get("publish") is True:
            bind.execute(sa.text("UPDATE locations SET published = :yes WHERE pk = :pk"), {"yes": True, "pk": pk})
    op.create_table(
        "evse_status_log",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("evse_uid", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_evse_status_log_evse_at", "evse_status_log", ["location_id", "evse_uid", "at"])
    op.create_index("ix_evse_status_log_at", "evse_status_log", ["at"])
    op.create_table(
        "maintenance_windows",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_maintenance_windows_charger", "maintenance_windows", ["charger_id", "starts_at"])
    op.create_table(
        "open_data_consumers",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "ad_hoc_payments",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("evse_uid", sa.String(36), nullable=False),
        sa.Column("charger_id", sa.String(48)),
        sa.Column("evse_number", sa.Integer),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_ref", sa.String(255), unique=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("hold_minor", sa.BigInteger, nullable=False),
        sa.Column("captured_minor", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("token_uid", sa.String(20), nullable=False, unique=True),
        sa.Column("session_id", sa.String(36)),
        sa.Column("email", sa.String(255)),
        sa.Column("message", sa.Text),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_ad_hoc_payments_session_id", "ad_hoc_payments", ["session_id"])
    op.create_index("ix_ad_hoc_payments_status", "ad_hoc_payments", ["status", "updated_at"])
    op.create_table(
        "plans",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("monthly_fee", sa.String(24), nullable=False),
        sa.Column("vat_rate", sa.String(8), nullable=False),
        sa.Column("included_kwh", sa.String(24), nullable=False),
        sa.Column("price_per_kwh", sa.String(24)),
        sa.Column("discount_percent", sa.String(8)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "driver_plans",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("driver_pk", PK, nullable=False),
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("start_month", sa.String(7), nullable=False),
        sa.Column("end_month", sa.String(7)),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_driver_plans_driver", "driver_plans", ["driver_pk", "start_month"])


def downgrade() -> None:
    op.drop_index("ix_driver_plans_driver", "driver_plans")
    op.drop_table("driver_plans")
    op.drop_table("plans")
    op.drop_index("ix_ad_hoc_payments_status", "ad_hoc_payments")
    op.drop_index("ix_ad_hoc_payments_session_id", "ad_hoc_payments")
    op.drop_table("ad_hoc_payments")
    op.drop_table("open_data_consumers")
    op.drop_index("ix_maintenance_windows_charger", "maintenance_windows")
    op.drop_table("maintenance_windows")
    op.drop_index("ix_evse_status_log_at", "evse_status_log")
    op.drop_index("ix_evse_status_log_evse_at", "evse_status_log")
    op.drop_table("evse_status_log")
    with op.batch_alter_table("locations") as batch:
        batch.drop_column("published")

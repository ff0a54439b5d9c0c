"""Reservations made through OCPI RESERVE_NOW (OCPI reservation_id <-> OCPP reservationId).

Revision ID: 0003_reservations
Revises: 0002_ocpp_charging
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0003_reservations"
down_revision = "0002_ocpp_charging"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("partner_pk", PK),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("evse_number", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("expiry_date", UTCDateTime, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("country_code", "party_id", "reservation_id", name="uq_reservations_party_id"),
    )


def downgrade() -> None:
    op.drop_table("reservations")

"""The OCPI 2.3.0 payments module: PTPs' payment terminals, payments made at them, their financial
advice confirmations; what a remote start carries besides its token.

Revision ID: 0012_ocpi_payments
Revises: 0011_users
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0012_ocpi_payments"
down_revision = "0011_users"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("remote_starts") as batch:
        batch.add_column(sa.Column("data", sa.Text))
    op.create_table(
        "payment_terminals",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("partner_pk", PK, nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("terminal_id", sa.String(36)),
        sa.Column("terminal_key", sa.String(36)),
        sa.Column("reference", sa.String(36)),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("partner_pk", "terminal_key", name="uq_payment_terminals_partner_terminal"),
    )
    op.create_index("ix_payment_terminals_partner_reference", "payment_terminals", ["partner_pk", "reference"])
    op.create_table(
        "terminal_payments",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("partner_pk", PK, nullable=False),
        sa.Column("terminal_pk", PK, nullable=False),
        sa.Column("authorization_reference", sa.String(36), nullable=False),
        sa.Column("reference_key", sa.String(36), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("evse_uid", sa.String(36), nullable=False),
        sa.Column("invoice_reference_id", sa.String(39)),
        sa.Column("session_id", sa.String(36)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("partner_pk", "reference_key", name="uq_terminal_payments_partner_reference"),
    )
    op.create_index("ix_terminal_payments_session_id", "terminal_payments", ["session_id"])
    op.create_table(
        "financial_advice_confirmations",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("partner_pk", PK, nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("id_key", sa.String(36), nullable=False),
        sa.Column("authorization_reference", sa.String(36), nullable=False),
        sa.Column("reference_key", sa.String(36), nullable=False),
        sa.Column("session_id", sa.String(36)),
        sa.Column("capture_status_code", sa.String(16), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("checks", sa.Text, nullable=False, server_default="{}"),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("partner_pk", "id_key", name="uq_financial_advice_confirmations_partner_id"),
    )
    op.create_index("ix_financial_advice_confirmations_reference_key", "financial_advice_confirmations",
                    ["reference_key"])


def downgrade() -> None:
    op.drop_index("ix_financial_advice_confirmations_reference_key", "financial_advice_confirmations")
    op.drop_table("financial_advice_confirmations")
    op.drop_index("ix_terminal_payments_session_id", "terminal_payments")
    op.drop_table("terminal_payments")
    op.drop_index("ix_payment_terminals_partner_reference", "payment_terminals")
    op.drop_table("payment_terminals")
    with op.batch_alter_table("remote_starts") as batch:
        batch.drop_column("data")

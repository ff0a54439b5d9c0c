"""Durable OCPI command state: CommandResults still owed to a response_url, remote-start expectations.

Revision ID: 0004_commands
Revises: 0003_reservations
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0004_commands"
down_revision = "0003_reservations"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "received_commands",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("partner_pk", PK, nullable=False),
        sa.Column("command", sa.String(20), nullable=False),
        sa.Column("response_url", sa.String(255), nullable=False),
        sa.Column("charger_id", sa.String(48)),
        sa.Column("action", sa.String(64)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("result", sa.String(24)),
        sa.Column("message", sa.Text),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("deadline", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_received_commands_waiting", "received_commands", ["status", "deadline"])
    op.create_table(
        "remote_starts",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("id_tag", sa.String(64), nullable=False),
        sa.Column("remote_start_id", sa.Integer),
        sa.Column("evse_number", sa.Integer),
        sa.Column("authorization_reference", sa.String(36)),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_remote_starts_charger", "remote_starts", ["charger_id", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_remote_starts_charger", table_name="remote_starts")
    op.drop_table("remote_starts")
    op.drop_index("ix_received_commands_waiting", table_name="received_commands")
    op.drop_table("received_commands")

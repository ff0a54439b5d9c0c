"""eMSP commands sent to CPO partners (START_SESSION, STOP_SESSION ...) and their results; the
Credit CDRs received and the CDR each one cancels.

Revision ID: 0007_remote_commands
Revises: 0006_sites
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0007_remote_commands"
down_revision = "0006_sites"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "remote_commands",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("command", sa.String(20), nullable=False),
        sa.Column("partner_pk", PK),
        sa.Column("partner", sa.String(100)),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("location_id", sa.String(36)),
        sa.Column("evse_uid", sa.String(36)),
        sa.Column("connector_id", sa.String(36)),
        sa.Column("session_id", sa.String(36)),
        sa.Column("reservation_id", sa.String(36)),
        sa.Column("token_uid", sa.String(36)),
        sa.Column("authorization_reference", sa.String(36)),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("response", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("deadline", UTCDateTime),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_remote_commands_open", "remote_commands", ["state", "deadline"])
    op.create_index("ix_remote_commands_authorization_reference", "remote_commands", ["authorization_reference"])
    op.create_table(
        "cdr_credits",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("cdr_id", sa.String(39), nullable=False),
        sa.Column("credit_cdr_id", sa.String(39), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("country_code", "party_id", "cdr_id", name="uq_cdr_credits_cdr"),
        sa.UniqueConstraint("country_code", "party_id", "credit_cdr_id", name="uq_cdr_credits_credit"),
    )


def downgrade() -> None:
    op.drop_table("cdr_credits")
    op.drop_index("ix_remote_commands_authorization_reference", "remote_commands")
    op.drop_index("ix_remote_commands_open", "remote_commands")
    op.drop_table("remote_commands")

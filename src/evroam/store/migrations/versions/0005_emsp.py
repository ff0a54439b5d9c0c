"""eMSP role: drivers, driver API keys, CDR disputes.

Revision ID: 0005_emsp
Revises: 0004_commands
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0005_emsp"
down_revision = "0004_commands"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drivers",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("email", sa.String(255)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False, unique=True),
        sa.Column("contract_end", UTCDateTime),
        sa.Column("credit_limit", sa.String(24)),
        sa.Column("allowed_cpos", sa.Text, nullable=False),
        sa.Column("api_key_hash", sa.String(64), unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "driver_tokens",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("driver_pk", PK, nullable=False),
        sa.Column("uid_key", sa.String(36), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.UniqueConstraint("uid_key", "type", name="uq_driver_tokens_uid_type"),
    )
    op.create_index("ix_driver_tokens_driver", "driver_tokens", ["driver_pk"])
    op.create_table(
        "driver_records",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("record_pk", PK, nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("object_id", sa.String(39), nullable=False),
        sa.Column("driver_pk", PK),
        sa.Column("token_uid", sa.String(36)),
        sa.Column("token_type", sa.String(20)),
        sa.Column("started_at", UTCDateTime),
        sa.Column("ended_at", UTCDateTime),
        sa.UniqueConstraint("kind", "record_pk", name="uq_driver_records_kind_record"),
    )
    op.create_index("ix_driver_records_driver", "driver_records", ["driver_pk", "kind", "started_at"])
    op.create_index("ix_driver_records_driver_ended", "driver_records", ["driver_pk", "kind", "ended_at"])
    op.create_index("ix_driver_records_object", "driver_records", ["kind", "country_code", "party_id", "object_id"])
    op.create_table(
        "cdr_checks",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("cdr_id", sa.String(39), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("tariff_id", sa.String(36)),
        sa.Column("claimed_excl_vat", sa.String(24)),
        sa.Column("claimed_incl_vat", sa.String(24)),
        sa.Column("computed_excl_vat", sa.String(24)),
        sa.Column("computed_incl_vat", sa.String(24)),
        sa.Column("difference", sa.String(24)),
        sa.Column("detail", sa.Text),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("country_code", "party_id", "cdr_id", name="uq_cdr_checks_cdr"),
    )
    op.create_index("ix_cdr_checks_status", "cdr_checks", ["status", "pk"])


def downgrade() -> None:
    op.drop_table("cdr_checks")
    op.drop_table("driver_records")
    op.drop_table("driver_tokens")
    op.drop_table("drivers")

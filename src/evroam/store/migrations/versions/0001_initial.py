"""Partners, locations, tariffs and the outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _object_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("id", sa.String(39), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("country_code", "party_id", "id", name=f"uq_{name}_owner_id"),
    )
    op.create_index(f"ix_{name}_owner_pk", name, ["country_code", "party_id", "pk"])
    op.create_index(f"ix_{name}_owner_updated", name, ["country_code", "party_id", "last_updated"])


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.String(10)),
        sa.Column("versions_url", sa.String(255)),
        sa.Column("version_url", sa.String(255)),
        sa.Column("registration_token_hash", sa.String(64)),
        sa.Column("token_hash", sa.String(64)),
        sa.Column("outgoing_token", sa.String(64)),
        sa.Column("outgoing_encoding", sa.String(10)),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("endpoints", sa.Text, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("sync_state", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_partners_registration_token_hash", "partners", ["registration_token_hash"])
    op.create_index("ix_partners_token_hash", "partners", ["token_hash"])
    _object_table("locations")
    _object_table("tariffs")
    op.create_table(
        "outbox",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("partner_pk", PK, nullable=False),
        sa.Column("module", sa.String(30), nullable=False),
        sa.Column("object_key", sa.String(150), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_pending", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_object", "outbox", ["partner_pk", "object_key", "pk"])


def downgrade() -> None:
    for name in ("outbox", "tariffs", "locations", "partners"):
        op.drop_table(name)

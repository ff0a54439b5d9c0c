"""Several nodes: outbox claims and the change feed.

Revision ID: 0008_cluster
Revises: 0007_remote_commands
"""

import sqlalchemy as sa
from alembic import op

from evroam.store.types import UTCDateTime

revision = "0008_cluster"
down_revision = "0007_remote_commands"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64)))
        batch.add_column(sa.Column("claimed_until", UTCDateTime))
    op.create_table(
        "changes",
        sa.Column("pk", PK, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_changes_created_at", "changes", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_changes_created_at", "changes")
    op.drop_table("changes")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")

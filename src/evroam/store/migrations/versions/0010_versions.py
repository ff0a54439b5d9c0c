"""OCPI versions and hubs: a hub's parties (ClientInfo) on the partner; ids (CiStrings) looked up
case-insensitively.

Revision ID: 0010_versions
Revises: 0009_payments
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_versions"
down_revision = "0009_payments"
branch_labels = None
depends_on = None

_OBJECTS = (("locations", "id"), ("tariffs", "id"), ("sessions", "id"), ("cdrs", "id"), ("tokens", "uid"))


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("hub_parties", sa.Text, nullable=False, server_default="[]"))
    for table, column in _OBJECTS:
        op.create_index(f"ix_{table}_owner_{column}_ci", table,
                        ["country_code", "party_id", sa.text(f"lower({column})")])


def downgrade() -> None:
    for table, column in _OBJECTS:
        op.drop_index(f"ix_{table}_owner_{column}_ci", table)
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("hub_parties")

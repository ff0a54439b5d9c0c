"""Durable OCPI command state: CommandResults still owed to a response_url, remote-start expectations.

Revision ID: 0004_commands
Revises: 0003_reservations
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

from evroam.store.types import UTCDateTime  # noqa: F401

revision = "0004_commands"
down_revision = "0003_reservations"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

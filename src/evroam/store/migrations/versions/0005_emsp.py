"""eMSP role: drivers, driver API keys, CDR disputes.

Revision ID: 0005_emsp
Revises: 0004_commands
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

from evroam.store.types import UTCDateTime  # noqa: F401

revision = "0005_emsp"
down_revision = "0004_commands"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

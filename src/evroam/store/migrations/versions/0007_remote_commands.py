"""eMSP commands sent to CPO partners (START_SESSION, STOP_SESSION ...) and their results.

Revision ID: 0007_remote_commands
Revises: 0006_sites
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

from evroam.store.types import UTCDateTime  # noqa: F401

revision = "0007_remote_commands"
down_revision = "0006_sites"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

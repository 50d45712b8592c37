"""audit entry MACs: which entries the gateway wrote

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Entries written before this revision keep NULL: a signed checkpoint vouches for them.
    op.add_column("audit_entries", sa.Column("mac", sa.String(length=80), nullable=True))


def downgrade() -> None:
    # A plain ALTER (SQLite >= 3.35 has DROP COLUMN): a batch copy would lose the triggers.
    op.drop_column("audit_entries", "mac")

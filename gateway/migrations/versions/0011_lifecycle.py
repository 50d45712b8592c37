"""lifecycle: retired sources and datasets, key expiry, why a query was revoked

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_RETIRED = ("sources", "datasets")


def upgrade() -> None:
    # Every column is nullable: existing rows are live, their keys never expire.
    for table in _RETIRED:
        op.add_column(table, sa.Column("retired_at", sa.DateTime(), nullable=True))
        op.add_column(table, sa.Column("retired_by", sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column("retire_reason", sa.Text(), nullable=True))
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.add_column("query_requests", sa.Column("revoke_cause", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # Plain ALTERs (SQLite >= 3.35 has DROP COLUMN): a batch copy would lose triggers.
    op.drop_column("query_requests", "revoke_cause")
    op.drop_column("api_keys", "expires_at")
    for table in reversed(_RETIRED):
        op.drop_column(table, "retire_reason")
        op.drop_column(table, "retired_by")
        op.drop_column(table, "retired_at")

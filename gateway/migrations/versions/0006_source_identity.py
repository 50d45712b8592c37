"""source identity: each source database belongs to one department, by its own identity

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing sources keep a NULL identity; the next registration fills them in.
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_sources_identity"), ["identity"], unique=False)
    op.create_table(
        "source_identities",
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_source_identities")),
    )


def downgrade() -> None:
    op.drop_table("source_identities")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sources_identity"))
        batch_op.drop_column("identity")

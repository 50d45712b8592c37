"""access rules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "casbin_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ptype", sa.String(length=8), nullable=False),
        sa.Column("v0", sa.String(length=128), nullable=False),
        sa.Column("v1", sa.String(length=128), nullable=False),
        sa.Column("v2", sa.String(length=128), nullable=False),
        sa.Column("v3", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casbin_rules")),
    )
    op.create_table(
        "policy_epoch",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_epoch")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=128), nullable=True))
    op.execute("INSERT INTO policy_epoch (id, epoch) VALUES (1, 0)")


def downgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_column("purpose")

    op.drop_table("policy_epoch")
    op.drop_table("casbin_rules")

"""privacy budgets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budget_ledgers",
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.String(length=10), nullable=False),
        sa.Column("total_micro", sa.BigInteger(), nullable=False),
        sa.Column("spent_micro", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["principals.id"], name=op.f("fk_budget_ledgers_app_id_principals")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_budget_ledgers_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "dataset_id", "window_start", name=op.f("pk_budget_ledgers")
        ),
    )
    op.create_table(
        "dp_releases",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("query_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.String(length=10), nullable=False),
        sa.Column("cost_micro", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["principals.id"], name=op.f("fk_dp_releases_app_id_principals")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dp_releases_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["query_id"], ["query_requests.id"], name=op.f("fk_dp_releases_query_id_query_requests")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dp_releases")),
    )
    with op.batch_alter_table("dp_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dp_releases_query_id"), ["query_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dp_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dp_releases_query_id"))

    op.drop_table("dp_releases")
    op.drop_table("budget_ledgers")

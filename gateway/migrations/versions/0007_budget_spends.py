"""budget spends: privacy budget spends recorded with their time, lifetime and dataset caps

Each reservation becomes one row with its instant, and windows are rolling sums over
those rows. The per-(app, dataset, calendar window) ledgers are carried over as one
spend each, dated at their last reservation (the latest instant the spend could have
happened, so it counts in rolling windows for as long as possible), then dropped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_LEDGERS = sa.table(
    "budget_ledgers",
    sa.column("app_id", sa.String),
    sa.column("dataset_id", sa.String),
    sa.column("window_start", sa.String),
    sa.column("total_micro", sa.BigInteger),
    sa.column("spent_micro", sa.BigInteger),
    sa.column("updated_at", sa.DateTime),
)


def upgrade() -> None:
    spends = op.create_table(
        "budget_spends",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("cost_micro", sa.BigInteger(), nullable=False),
        sa.Column("spent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["principals.id"], name=op.f("fk_budget_spends_app_id_principals")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_budget_spends_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_spends")),
    )
    op.create_index(
        "ix_budget_spends_dataset_app",
        "budget_spends",
        ["dataset_id", "app_id", "spent_at"],
        unique=False,
    )
    counters = op.create_table(
        "budget_datasets",
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("spent_micro", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_budget_datasets_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_budget_datasets")),
    )
    bind = op.get_bind()
    old = bind.execute(
        sa.select(
            _LEDGERS.c.app_id, _LEDGERS.c.dataset_id, _LEDGERS.c.spent_micro, _LEDGERS.c.updated_at
        ).where(_LEDGERS.c.spent_micro > 0)
    ).all()
    if old:
        # The purpose of a carried-over spend is unknown: the ledger was shared by all.
        op.bulk_insert(
            spends,
            [
                {
                    "id": uuid4().hex,
                    "app_id": a,
                    "dataset_id": d,
                    "purpose": "",
                    "cost_micro": spent,
                    "spent_at": at,
                }
                for a, d, spent, at in old
            ],
        )
        totals: dict[str, tuple[int, datetime]] = {}
        for _, d, spent, at in old:
            before, last = totals.get(d, (0, at))
            totals[d] = (before + spent, max(last, at))
        op.bulk_insert(
            counters,
            [
                {"dataset_id": d, "spent_micro": spent, "updated_at": at}
                for d, (spent, at) in totals.items()
            ],
        )
    op.drop_table("budget_ledgers")


def downgrade() -> None:
    ledgers = op.create_table(
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
    spends = sa.table(
        "budget_spends",
        sa.column("app_id", sa.String),
        sa.column("dataset_id", sa.String),
        sa.column("cost_micro", sa.BigInteger),
        sa.column("spent_at", sa.DateTime),
    )
    # Calendar ledgers cannot hold a spend history: each pair keeps its whole spend in the
    # month of its latest spend, so nothing already spent becomes available again that month.
    rows = (
        op.get_bind()
        .execute(
            sa.select(
                spends.c.app_id,
                spends.c.dataset_id,
                sa.func.sum(spends.c.cost_micro),
                sa.func.max(spends.c.spent_at),
            ).group_by(spends.c.app_id, spends.c.dataset_id)
        )
        .all()
    )
    if rows:
        op.bulk_insert(
            ledgers,
            [
                {
                    "id": uuid4().hex,
                    "app_id": a,
                    "dataset_id": d,
                    "window_start": last.date().replace(day=1).isoformat(),
                    "total_micro": int(spent),
                    "spent_micro": int(spent),
                    "updated_at": last,
                }
                for a, d, spent, last in rows
            ],
        )
    op.drop_table("budget_datasets")
    op.drop_index("ix_budget_spends_dataset_app", table_name="budget_spends")
    op.drop_table("budget_spends")

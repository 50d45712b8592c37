"""audit verifiability: guarded sequencer, committed subject index, resident column

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.guards import sequencer_statements

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in sequencer_statements(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        # The column that carries the resident's ID number (NULL: the privacy unit does).
        batch_op.add_column(sa.Column("resident_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("resident_id")
    dialect = op.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        op.execute(
            "DROP TRIGGER IF EXISTS audit_sequencer_grows"
            + (" ON audit_sequencer" if dialect == "postgresql" else "")
        )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cdg_sequencer_grows()")

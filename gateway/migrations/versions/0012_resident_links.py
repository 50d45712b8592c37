"""resident links: one-time links through which a resident reads their access history

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resident_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("issuer_id", sa.String(length=32), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("session_digest", sa.String(length=64), nullable=True),
        sa.Column("session_expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["principals.id"],
            name=op.f("fk_resident_links_issuer_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_links")),
        sa.UniqueConstraint("session_digest", name=op.f("uq_resident_links_session_digest")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_resident_links_token_digest")),
    )
    op.create_index(
        op.f("ix_resident_links_issuer_id"), "resident_links", ["issuer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_resident_links_issuer_id"), table_name="resident_links")
    op.drop_table("resident_links")

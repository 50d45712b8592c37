"""Database guards for the append-only log tables, used by the migrations.

Triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL). They resist
mistakes and casual tampering; an owner or superuser can still drop them, which
is why detection rests on the Merkle proofs and signed checkpoints.
"""

from __future__ import annotations

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION cdg_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""


def append_only_statements(dialect: str, table: str, actions: tuple[str, ...]) -> list[str]:
    """SQL that makes ``table`` refuse ``actions`` (UPDATE / DELETE) on this dialect."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for action in actions
        ]
    if dialect == "postgresql":
        return [
            _PG_FUNCTION,
            f"CREATE TRIGGER {table}_append_only BEFORE {' OR '.join(actions)} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cdg_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION cdg_append_only()",
        ]
    return []

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


_PG_SEQUENCER_FUNCTION = """
CREATE OR REPLACE FUNCTION cdg_sequencer_grows() RETURNS trigger AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.size < OLD.size OR OLD.size <> COALESCE(
        (SELECT MAX("index") FROM audit_entries), -1) + 1 THEN
        RAISE EXCEPTION 'audit_sequencer only grows by what is appended';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def sequencer_statements(dialect: str) -> list[str]:
    """The sequencer's size may only grow, and only once the last claim was appended.

    An appender raises the size first and writes its entries in the same transaction, so
    when the next update comes the size equals the entries stored: a size lowered to hide
    a truncation, or raised without entries, is refused.
    """
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER audit_sequencer_grows BEFORE UPDATE ON audit_sequencer "
            "WHEN NEW.id <> OLD.id OR NEW.size < OLD.size OR OLD.size <> "
            'COALESCE((SELECT MAX("index") FROM audit_entries), -1) + 1 '
            "BEGIN SELECT RAISE(ABORT, 'audit_sequencer only grows by what is appended'); END"
        ]
    if dialect == "postgresql":
        return [
            _PG_SEQUENCER_FUNCTION,
            "CREATE TRIGGER audit_sequencer_grows BEFORE UPDATE ON audit_sequencer "
            "FOR EACH ROW EXECUTE FUNCTION cdg_sequencer_grows()",
        ]
    return []

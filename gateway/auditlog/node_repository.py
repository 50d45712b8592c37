"""The SQL of the Merkle tree's nodes (audit_nodes), as the node store and repair use it.

Reads are plain driver SQL: building and compiling an expression of ~40 terms per
proof cost several times the query itself, and proofs are a hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CursorResult, insert
from sqlalchemy.orm import Session

from gateway.auditlog.models import AuditNode

_Key = tuple[int, int]  # (level, index), the node store's NodeKey

_PG_NODES = (
    "SELECT n.level, n.idx, n.hash FROM unnest(%s::integer[], %s::bigint[]) AS k(level, idx) "
    "JOIN audit_nodes n ON n.level = k.level AND n.idx = k.idx"
)
# The tree size as one more row of a node read: level -1, the highest leaf index, no hash.
_SIZE_ROW = "SELECT -1, MAX(idx), NULL FROM audit_nodes WHERE level = 0"
_LAST_LEAF = "SELECT MAX(idx) FROM audit_nodes WHERE level = 0"


class NodeRepository:
    """Node reads and inserts in the caller's session (its transaction, or none yet)."""

    __slots__ = ("_postgres", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    def _pairs(self, keys: Sequence[_Key], tail: str = "") -> CursorResult[Any, Any, Any]:
        """Rows (level, idx, hash) of the stored nodes among ``keys``, then ``tail``'s rows."""
        conn = self.session.connection()
        if self._postgres:
            # One index lookup per pair through a join on unnest: PostgreSQL plans a long
            # OR of pairs slower than the lookups themselves.
            return conn.exec_driver_sql(
                _PG_NODES + tail, ([lv for lv, _ in keys], [ix for _, ix in keys])
            )
        # An OR of (level, idx) pairs uses the primary key on SQLite and MariaDB; SQLite
        # answers a row-value IN list with a full scan.
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        pair = f"(level = {mark} AND idx = {mark})"
        return conn.exec_driver_sql(
            # Only placeholders are joined in; the values travel as parameters.
            "SELECT level, idx, hash FROM audit_nodes WHERE "  # noqa: S608
            + " OR ".join([pair] * len(keys))
            + tail,
            tuple(value for key in keys for value in key),
        )

    def nodes(self, keys: Sequence[_Key]) -> CursorResult[Any, Any, Any]:
        """Rows (level, idx, hash) of the stored nodes among ``keys`` (not empty), one query."""
        return self._pairs(keys)

    def nodes_and_size(self, keys: Sequence[_Key]) -> CursorResult[Any, Any, Any]:
        """``nodes(keys)`` and, in the same query, a row (-1, highest leaf index or None,
        None) giving the tree size."""
        if not keys:
            return self.session.connection().exec_driver_sql(_SIZE_ROW)
        return self._pairs(keys, f" UNION ALL {_SIZE_ROW}")

    def leaf_count(self) -> int:
        """The tree size: one past the highest stored leaf."""
        last = self.session.connection().exec_driver_sql(_LAST_LEAF).scalar()
        return 0 if last is None else int(last) + 1

    def insert(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        """Insert (level, idx, hash) rows (not empty) in one executemany."""
        self.session.execute(
            insert(AuditNode), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes]
        )

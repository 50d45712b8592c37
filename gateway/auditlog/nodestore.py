"""The Merkle tree's node store in the gateway database (audit_nodes)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.auditlog.models import AuditNode

NodeKey = tuple[int, int]


_PG_NODES = (
    "SELECT n.level, n.idx, n.hash FROM unnest(%s::integer[], %s::bigint[]) AS k(level, idx) "
    "JOIN audit_nodes n ON n.level = k.level AND n.idx = k.idx"
)


class SqlNodeStore:
    """``audit.NodeStore`` over the caller's session: reads and writes join its transaction.

    One instance lives for one transaction and remembers every node it read or
    wrote, and the tree size once read: nodes never change once written, and the
    writer holds the sequencer lock, so within the transaction nothing it saw can
    go stale. An append, its root and its receipts' proofs then need only the
    frontier read and the inserts, not a query per proof.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._nodes: dict[NodeKey, bytes] = {}
        self._size: int | None = None
        self._wanted: list[NodeKey] = []
        self._postgres = session.get_bind().dialect.name == "postgresql"

    def want(self, *keys: NodeKey) -> None:
        """Fetch these nodes too with the next query (one round trip for a proof and its leaf)."""
        self._wanted.extend(keys)

    def get(self, level: int, index: int) -> bytes:
        found = self.get_many([(level, index)])
        if (level, index) not in found:
            raise KeyError((level, index))
        return found[(level, index)]

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        known = {k: self._nodes[k] for k in keys if k in self._nodes}
        missing = [k for k in keys if k not in self._nodes]
        if not missing:
            return known
        extra = [k for k in self._wanted if k not in self._nodes]
        self._wanted = []
        fetch = list(dict.fromkeys(missing + extra))
        conn = self.session.connection()
        # Plain driver SQL: building and compiling an expression of ~40 terms per proof cost
        # several times the query itself.
        if self._postgres:
            # One index lookup per pair through a join on unnest: PostgreSQL plans a long
            # OR of pairs slower than the lookups themselves.
            rows = conn.exec_driver_sql(
                _PG_NODES, ([lv for lv, _ in fetch], [ix for _, ix in fetch])
            )
        else:
            # An OR of (level, idx) pairs uses the primary key on SQLite and MariaDB; SQLite
            # answers a row-value IN list with a full scan.
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            pair = f"(level = {mark} AND idx = {mark})"
            rows = conn.exec_driver_sql(
                # Only placeholders are joined in; the values travel as parameters.
                "SELECT level, idx, hash FROM audit_nodes WHERE "  # noqa: S608
                + " OR ".join([pair] * len(fetch)),
                tuple(value for key in fetch for value in key),
            )
        wanted_now = set(missing)
        for level, idx, digest in rows:
            key = (int(level), int(idx))
            self._nodes[key] = bytes(digest)
            if key in wanted_now:
                known[key] = self._nodes[key]
        return known

    def prefetch(self, keys: Sequence[NodeKey]) -> None:
        """Read these nodes and the tree size in one round trip (a proof's whole need).

        Nodes never change once written and this is one statement: it needs no
        transaction. When the session has not touched the store yet (the proof routes),
        its connection runs in autocommit, which saves the BEGIN and COMMIT round trips.
        """
        if not self.session.in_transaction():
            self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        conn = self.session.connection()
        fetch = list(dict.fromkeys(keys))
        size = "SELECT -1, MAX(idx), NULL FROM audit_nodes WHERE level = 0"
        if not fetch:
            rows = conn.exec_driver_sql(size)
        elif self._postgres:
            rows = conn.exec_driver_sql(
                f"{_PG_NODES} UNION ALL {size}", ([lv for lv, _ in fetch], [ix for _, ix in fetch])
            )
        else:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            pair = f"(level = {mark} AND idx = {mark})"
            rows = conn.exec_driver_sql(
                # Only placeholders are joined in; the values travel as parameters.
                "SELECT level, idx, hash FROM audit_nodes WHERE "  # noqa: S608
                + " OR ".join([pair] * len(fetch))
                + f" UNION ALL {size}",
                tuple(value for key in fetch for value in key),
            )
        for level, idx, digest in rows:
            if int(level) == -1:
                self._size = 0 if idx is None else int(idx) + 1
            else:
                self._nodes[(int(level), int(idx))] = bytes(digest)

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if not nodes:
            return
        self.session.execute(
            insert(AuditNode), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes]
        )
        for level, idx, digest in nodes:
            self._nodes[(level, idx)] = digest
            if level == 0 and self._size is not None:
                self._size = max(self._size, idx + 1)

    def size(self) -> int:
        if self._size is None:
            last = (
                self.session.connection()
                .exec_driver_sql("SELECT MAX(idx) FROM audit_nodes WHERE level = 0")
                .scalar()
            )
            self._size = 0 if last is None else int(last) + 1
        return self._size

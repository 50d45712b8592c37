"""The Merkle tree's node store in the gateway database (audit_nodes)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from gateway.auditlog.models import AuditNode

NodeKey = tuple[int, int]


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
        # An OR of (level, idx) pairs uses the primary key on every database; SQLite
        # answers a row-value IN list with a full scan.
        wanted = or_(*[(AuditNode.level == lv) & (AuditNode.idx == ix) for lv, ix in missing])
        rows = self.session.execute(
            select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(wanted)
        )
        for level, idx, digest in rows:
            self._nodes[(level, idx)] = known[(level, idx)] = bytes(digest)
        return known

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
            last = self.session.scalar(select(func.max(AuditNode.idx)).where(AuditNode.level == 0))
            self._size = 0 if last is None else int(last) + 1
        return self._size

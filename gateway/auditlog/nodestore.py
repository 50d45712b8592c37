"""The Merkle tree's node store in the gateway database (audit_nodes)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from gateway.auditlog.models import AuditNode

NodeKey = tuple[int, int]


class SqlNodeStore:
    """``audit.NodeStore`` over the caller's session: reads and writes join its transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, level: int, index: int) -> bytes:
        found = self.session.scalar(
            select(AuditNode.hash).where(AuditNode.level == level, AuditNode.idx == index)
        )
        if found is None:
            raise KeyError((level, index))
        return bytes(found)

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        if not keys:
            return {}
        # An OR of (level, idx) pairs uses the primary key on every database; SQLite
        # answers a row-value IN list with a full scan.
        wanted = or_(*[(AuditNode.level == lv) & (AuditNode.idx == ix) for lv, ix in keys])
        rows = self.session.execute(
            select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(wanted)
        )
        return {(level, idx): bytes(digest) for level, idx, digest in rows}

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if nodes:
            self.session.execute(
                insert(AuditNode), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes]
            )

    def size(self) -> int:
        last = self.session.scalar(select(func.max(AuditNode.idx)).where(AuditNode.level == 0))
        return 0 if last is None else int(last) + 1

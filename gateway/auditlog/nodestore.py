"""The Merkle tree's node store in the gateway database (audit_nodes).

What it remembers is decided here; its SQL is in ``node_repository.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from gateway.auditlog.node_repository import NodeRepository

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
        self._wanted: list[NodeKey] = []
        self._rows = NodeRepository(session)

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
        rows = self._rows.nodes(fetch)
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
        rows = self._rows.nodes_and_size(list(dict.fromkeys(keys)))
        for level, idx, digest in rows:
            if int(level) == -1:
                self._size = 0 if idx is None else int(idx) + 1
            else:
                self._nodes[(int(level), int(idx))] = bytes(digest)

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if not nodes:
            return
        self._rows.insert(nodes)
        for level, idx, digest in nodes:
            self._nodes[(level, idx)] = digest
            if level == 0 and self._size is not None:
                self._size = max(self._size, idx + 1)

    def size(self) -> int:
        if self._size is None:
            self._size = self._rows.leaf_count()
        return self._size

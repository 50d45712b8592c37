"""Checking entries before a checkpoint signs them: each must carry a valid entry MAC.

The signer covers every entry past the previous checkpoint. An entry without a valid
MAC there was not written by a gateway holding the master key (someone with write
access to the store appended it), so the signer refuses the whole tail, logs the
entry's index, and ``cdg audit verify`` reports it.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from audit import leaf_hash
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.repository import AuditRepository

log = logging.getLogger("cdg.audit")


class UnauthenticatedEntry(RuntimeError):
    """An entry the gateway did not write lies where a checkpoint would sign it."""

    def __init__(self, index: int) -> None:
        super().__init__(f"entry {index} carries no valid entry MAC")
        self.index = index


def first_unauthenticated(session: Session, macs: EntryMacs, start: int, end: int) -> int | None:
    """The first index in ``[start, end)`` whose entry, tree leaf or MAC is not genuine."""
    if start >= end:
        return None
    rows = AuditRepository(session).entries_with_leaves(start, end)
    position = start
    for index, text, mac, node in rows:
        if index != position:
            return position  # a gap: the tree's leaf there is nothing the gateway wrote
        digest = leaf_hash(str(text).encode("utf-8"))
        # The signature covers the tree, so the tree's leaf must be this very entry.
        if node is None or bytes(node) != digest or not macs.valid(index, digest, mac):
            return position
        position += 1
    return None if position == end else position


def check_tail(session: Session, macs: EntryMacs, start: int, end: int) -> None:
    """Raise ``UnauthenticatedEntry`` (and log it) unless ``[start, end)`` may be signed."""
    bad = first_unauthenticated(session, macs, start, end)
    if bad is not None:
        log.error(
            "audit checkpoint refused: entry %d has no valid entry MAC (written outside the "
            "gateway); run `cdg audit verify`",
            bad,
        )
        raise UnauthenticatedEntry(bad)

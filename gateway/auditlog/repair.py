"""Restoring the tree's derived nodes from the entries (``cdg audit repair``).

Every stored node is a function of the entries, so a missing one can be recomputed.
Repair only ever inserts: it runs verification first and refuses when anything
besides missing nodes is wrong (a changed entry, column, node or checkpoint is
evidence to keep, not to paper over), and the repair itself is logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auditlog.derived_checks import REPAIRABLE, DerivedChecks
from gateway.auditlog.log_context import LogContext
from gateway.auditlog.node_repository import NodeRepository
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.service import record_in, verify_store
from gateway.auditlog.verify import Problem
from gateway.principal import AuthPrincipal

# Who acts when the repair runs at the command line on the gateway host.
OPERATOR = AuthPrincipal(
    id="operator", name="operator", kind="operator", role="operator", domain=""
)
_CHUNK = 1000


@dataclass(frozen=True)
class Repaired:
    restored: int  # tree nodes inserted
    refused: Problem | None = None  # the first problem repair must not touch


def repair_tree(ctx: LogContext) -> Repaired:
    with ctx.store.transaction() as session:
        report = verify_store(session, ctx)
        blocking = [p for p in report.problems if p.kind not in REPAIRABLE]
        if blocking:
            return Repaired(0, min(blocking, key=lambda p: p.index))
        if report.intact:
            return Repaired(0)
    with ctx.store.writing() as session:
        # Take the appenders' lock: no append may read the frontier while nodes go in.
        repository = AuditRepository(session)
        repository.lock_sequencer()
        checks = DerivedChecks(repository)
        for _ in checks.entries():
            pass
        missing = checks.missing
        nodes = NodeRepository(session)
        for start in range(0, len(missing), _CHUNK):
            nodes.insert(missing[start : start + _CHUNK])
        record_in(session, ctx, "audit.repaired", OPERATOR, nodes_restored=len(missing))
    return Repaired(len(missing))

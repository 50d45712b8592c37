"""Keeping every process's casbin engine in step with the stored rules.

Any change to a usage policy, a dataset or a principal rebuilds its lines of the rules
in the same transaction and moves the epoch on (gateway/catalog/rules.py for policy
lines, gateway/auth/rules.py for role lines). Each gateway process holds an engine
for the epoch it last saw and compares epochs at every decision (one indexed
read), so a change takes effect at the next request in every process, without
a restart.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from gateway.access.repository import AccessRepository
from policies import PolicyEngine, PurposeHierarchy


class EngineHolder:
    """This process's engine, rebuilt when the store's epoch moves."""

    def __init__(self, hierarchy: PurposeHierarchy) -> None:
        self.hierarchy = hierarchy
        self._epoch = -1
        self._engine: PolicyEngine | None = None
        self._lock = threading.Lock()

    def engine(self, session: Session, epoch: int | None = None) -> PolicyEngine:
        """The engine for the store's epoch (``epoch``: already read in this transaction)."""
        repo = AccessRepository(session)
        if epoch is None:
            epoch = repo.epoch()
        engine = self._engine
        if engine is not None and epoch == self._epoch:
            return engine
        with self._lock:
            if self._engine is None or epoch != self._epoch:
                self._engine = PolicyEngine(repo.rules(), self.hierarchy)
                self._epoch = epoch
            return self._engine

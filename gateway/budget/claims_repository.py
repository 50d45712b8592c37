"""Claims on DP releases: one run per release key at a time, across processes.

Identical DP runs (same query, parameters, policy version, window and ε) must give
one noisy answer, charged once. The first run inserts a claim whose primary key is
the release key: the store's unique key lets exactly one insert win, whichever
thread or process tries, and the others wait for the answer it stores. A claim is
removed when its run ends (answer stored, or failed). One left behind by a process
that died is taken over once it is older than the lease the caller gives.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.budget.models import ReleaseClaim
from gateway.store.base import utcnow


class ClaimRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def take(self, key: str, holder: str, stale_before: datetime) -> bool:
        """Claim ``key`` for ``holder``; False when another run holds it."""
        self.session.execute(
            delete(ReleaseClaim).where(
                ReleaseClaim.key == key, ReleaseClaim.claimed_at < stale_before
            )
        )
        try:
            with self.session.begin_nested():
                self.session.add(ReleaseClaim(key=key, holder=holder, claimed_at=utcnow()))
            return True
        except IntegrityError:
            return False  # another run claimed it first

    def held(self, key: str) -> bool:
        found = self.session.execute(
            select(ReleaseClaim.key).where(ReleaseClaim.key == key)
        ).first()
        return found is not None

    def drop(self, key: str, holder: str) -> None:
        """Remove the claim, if still ``holder``'s (a stale one may have been taken over)."""
        self.session.execute(
            delete(ReleaseClaim).where(ReleaseClaim.key == key, ReleaseClaim.holder == holder)
        )

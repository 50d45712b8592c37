"""This process's principals by API-key digest, valid for one policy epoch.

Every change to a principal or its keys (adding, revoking) rebuilds the role rules
and moves the store's policy epoch on (gateway/auth/rules.py), so an entry is used
only while the epoch it was read under is still current: a revoked key stops working
at the next request, in every process. Failed lookups are never kept.

A key with an expiry is remembered with it and never served at or past that moment,
whatever the epoch: expiry needs no change to move the epoch. Rotating, reissuing or
expiring keys moves the epoch too, so a shortened expiry is read afresh.
"""

from __future__ import annotations

import threading
from datetime import datetime

from gateway.principal import AuthPrincipal
from gateway.store.base import utcnow

_LIMIT = 10_000  # distinct live keys one process remembers; emptied when full


class PrincipalCache:
    def __init__(self) -> None:
        self._epoch = -1
        self._by_digest: dict[str, tuple[AuthPrincipal, datetime | None]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, epoch: int, now: datetime | None = None) -> AuthPrincipal | None:
        if epoch != self._epoch:
            return None
        hit = self._by_digest.get(digest)
        if hit is None:
            return None
        principal, expires_at = hit
        if expires_at is not None and (now or utcnow()) >= expires_at:
            return None  # expired: the caller looks the key up and is told so
        return principal

    def put(
        self,
        digest: str,
        epoch: int,
        principal: AuthPrincipal,
        expires_at: datetime | None = None,
    ) -> None:
        with self._lock:
            if epoch != self._epoch:
                if epoch < self._epoch:
                    return  # read under an older epoch than one already seen
                self._by_digest = {}
                self._epoch = epoch
            if len(self._by_digest) >= _LIMIT:
                self._by_digest = {}
            self._by_digest[digest] = (principal, expires_at)

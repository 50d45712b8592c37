"""This process's principals by API-key digest, valid for one policy epoch.

Every change to a principal or its keys (adding, revoking) rebuilds the access rules
and moves the store's policy epoch on (gateway.access.service), so an entry is used
only while the epoch it was read under is still current: a revoked key stops working
at the next request, in every process. Failed lookups are never kept.
"""

from __future__ import annotations

import threading

from gateway.auth.principal import AuthPrincipal

_LIMIT = 10_000  # distinct live keys one process remembers; emptied when full


class PrincipalCache:
    def __init__(self) -> None:
        self._epoch = -1
        self._by_digest: dict[str, AuthPrincipal] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, epoch: int) -> AuthPrincipal | None:
        if epoch != self._epoch:
            return None
        return self._by_digest.get(digest)

    def put(self, digest: str, epoch: int, principal: AuthPrincipal) -> None:
        with self._lock:
            if epoch != self._epoch:
                if epoch < self._epoch:
                    return  # read under an older epoch than one already seen
                self._by_digest = {}
                self._epoch = epoch
            if len(self._by_digest) >= _LIMIT:
                self._by_digest = {}
            self._by_digest[digest] = principal

"""Failed sign-ins slow down: after ``LIMIT`` refusals from one address within ``WINDOW``,
that address is refused without checking the key until the oldest refusal ages out.

Keys carry 256 bits, so guessing is hopeless anyway; this keeps a script from filling the
access log with refused sign-ins. It is per process (each worker counts on its own).
A successful sign-in does not clear the count: otherwise whoever holds one key could
interleave it with nine guesses at a time and never be slowed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Final

LIMIT: Final = 10
WINDOW: Final = 600.0  # seconds
_MAX_ADDRESSES: Final = 10_000


class SignInThrottle:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def wait_seconds(self, address: str) -> int:
        """0 when ``address`` may try; else how long until it may."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.limit:
                return 0
            return max(1, int(self.window - (now - times[0])) + 1)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= _MAX_ADDRESSES and address not in self._failures:
                self._failures.clear()  # bounded memory: forget everyone rather than grow
            times = self._recent(address, now)
            times.append(now)
            self._failures[address] = times

    def forget(self, address: str) -> None:
        """Drop ``address``'s refusals (tests start from a clean count)."""
        with self._lock:
            self._failures.pop(address, None)


def throttle_of(app: Any) -> SignInThrottle:
    """The application's count: one per app, so apps in one process (tests) do not share it."""
    found: SignInThrottle | None = getattr(app.state, "sign_in_throttle", None)
    if found is None:
        found = app.state.sign_in_throttle = SignInThrottle()
    return found

"""Entries are recorded in index order, so their ``recorded_at`` may not go backwards.

Several gateway processes append to one log, each stamping entries with its own clock
while it holds the sequencer, so two clocks a little apart can make an entry look
slightly older than the one before it. Beyond that skew, an entry dated earlier than
its predecessor was placed in the past (a forged or re-dated entry), and verification
reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TIME_REVERSED = "time_reversed"
# Clock skew tolerated between gateway processes sharing one store.
CLOCK_SKEW = timedelta(seconds=5)


@dataclass
class TimeOrder:
    """Feed entries in index order; ``step`` says why one is out of time order, or None."""

    _last: datetime | None = None
    _last_index: int = -1

    def step(self, index: int, when: datetime | None) -> str | None:
        if when is None:
            return None  # an entry from before the time was committed
        last, last_index = self._last, self._last_index
        self._last, self._last_index = when, index
        if last is not None and when < last - CLOCK_SKEW:
            return reversed_message(index, when, last, last_index)
        return None


def reversed_message(index: int, when: datetime, last: datetime, last_index: int) -> str:
    """Why entry ``index`` (recorded ``when``) is out of order after ``last_index``."""
    seconds = (last - when).total_seconds()
    return (
        f"entry {index} is recorded {seconds:.0f} s before entry {last_index}, "
        f"which precedes it (more than the {CLOCK_SKEW.total_seconds():.0f} s of "
        "clock skew allowed between gateway processes)"
    )

"""Budget windows: the ledger a run charges is the one of the window it runs in."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal

MICRO = 1_000_000


def window_start(window: str, now: datetime) -> str:
    day = now.date()
    if window == "day":
        start = day
    elif window == "week":
        start = day - timedelta(days=day.weekday())
    else:
        start = date(day.year, day.month, 1)
    return start.isoformat()


def to_micro(epsilon: float) -> int:
    return round(epsilon * MICRO)


def charge_micro(epsilon: float) -> int:
    """What a run spending ``epsilon`` is charged, in micro-ε, rounded up.

    Taken from the decimal the float stands for (0.1 is 100000, not 100001), and rounded
    up, never to the nearest: a positive ε is never charged as zero, nor as less than
    it spends."""
    return math.ceil(Decimal(repr(epsilon)) * MICRO)


def from_micro(value: int) -> float:
    return value / MICRO

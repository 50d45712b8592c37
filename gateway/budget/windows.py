"""Budget windows and ε units.

Budgets are rolling sums over recorded spends: a window is a length, not a calendar
ledger, so changing the setting changes which spends are summed and never forgets one.
The calendar start below only names the period in which an identical query gets its
stored answer back.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal

MICRO = 1_000_000
WINDOW_LENGTH = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}


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
    """A cap in micro-units (policy values have at most a few decimals)."""
    return round(Decimal(repr(epsilon)) * MICRO)


def charge_micro(epsilon: float) -> int:
    """What a run spending ``epsilon`` is charged, in micro-ε, rounded up.

    Taken from the decimal the float stands for (0.1 is 100000, not 100001), and rounded
    up, never to the nearest: a positive ε is never charged as zero, nor as less than
    it spends."""
    return math.ceil(Decimal(repr(epsilon)) * MICRO)


def from_micro(value: int) -> float:
    return value / MICRO

"""Budget windows: the ledger a run charges is the one of the window it runs in."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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


def from_micro(value: int) -> float:
    return value / MICRO

"""Limits on values that enter at the edge: instants, integers, privacy budgets.

Everything a client sends is checked against these before any store or source
sees it, so a value a database or the noise mechanism cannot take is a 422, never
a failure half way through a request. Every id, count and offset the gateway keeps
fits a signed 64-bit column, so integers are bounded to that range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

# Instants the gateway accepts: a time zone is required (a naive time means different
# instants on different servers), and the instant, taken to UTC, lies in this range, which
# every store dialect (SQLite text, PostgreSQL timestamptz, MariaDB DATETIME) can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)

INT64_MAX = 2**63 - 1


def _in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # an offset that pushes the instant past year 1 or 9999
        raise ValueError("the time lies outside 1970-01-01 .. 3000-01-01 (UTC)") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("the time lies outside 1970-01-01 .. 3000-01-01 (UTC)")
    return utc


Instant = Annotated[
    AwareDatetime,
    AfterValidator(_in_range),
    Field(description="RFC 3339 time with a UTC offset, between 1970-01-01 and 3000-01-01 UTC."),
]
"""A point in time as clients send it, normalised to UTC."""

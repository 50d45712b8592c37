"""When to try a request again: 429 and 503 only, honouring Retry-After, bounded.

The gateway answers 503 when it did nothing (an identical DP run still in progress, the
access log briefly unavailable: nothing was released) and 429 when a caller goes too fast;
both say so before any effect, so every method may be repeated after them, POST included.
Other errors are final. A connection that could not be opened is retried too (the request
was never sent); one that broke after sending is not, since the gateway may have acted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before giving up.

    ``attempts`` counts every try, the first included (1 = never retry). Without a
    Retry-After header the wait grows exponentially from ``backoff`` seconds up to
    ``max_backoff``, with jitter so that many clients do not return together. A
    Retry-After longer than ``max_wait`` is not waited for: the error is raised at once
    (with its ``retry_after``), so a caller is never stuck for minutes.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_wait < 0:
            raise ValueError("waits cannot be negative")

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait after failed try number ``attempt`` (1-based); None: give up."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        ceiling = min(self.max_backoff, self.backoff * float(2 ** (attempt - 1)))
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())

"""A query request's status as callers see it: "expired" is derived, never stored."""

from __future__ import annotations

from datetime import datetime

from gateway.requests.models import QueryRequest
from gateway.store.base import utcnow


def effective_status(row: QueryRequest, now: datetime | None = None) -> str:
    lapsed = row.expires_at is not None and row.expires_at <= (now or utcnow())
    if row.status == "approved" and lapsed:
        return "expired"
    return row.status

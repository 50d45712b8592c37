"""Appending several entries in the caller's transaction as one batch.

``record_in`` appends one entry; the writer then reads the log's unsigned tail to check
it, once per call. A change that closes many requests at once (retiring a dataset with
a thousand approved queries) appends them here in one call, so the tail is read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from gateway.auditlog.log_context import LogContext
from gateway.auditlog.service import _pending, _unwritable
from gateway.auditlog.writer import AuditUnavailable, Receipt
from gateway.principal import AuthPrincipal


def record_all_in(
    session: Session,
    ctx: LogContext,
    entries: Sequence[tuple[str, AuthPrincipal, dict[str, Any]]],
) -> list[Receipt]:
    """Append ``(event, principal, fields)`` entries; they commit with the caller's change."""
    if not entries:
        return []
    batch = [_pending(event, principal, None, fields) for event, principal, fields in entries]
    try:
        return ctx.audit.appender.append(session, batch)
    except AuditUnavailable as exc:
        raise _unwritable(exc) from None

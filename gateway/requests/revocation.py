"""Ending a query request's life: the one place a query is revoked or a request rejected.

A department revoking one query, a retired dataset or source, and a policy replacement
that breaks a query all close it here (``close_requests``), so the row, its access-log
entry and anything that must follow a revocation (notifications) change together, in
the caller's transaction. The reason is stored on the request: the app reads it when it
lists or shows the request, and a run of a revoked query answers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from gateway.auditlog.batches import record_all_in
from gateway.context import GatewayContext
from gateway.principal import AuthPrincipal
from gateway.requests.models import QueryRequest
from gateway.store.base import utcnow
from gateway.webhooks import notify

# Why a query was revoked: its department said so, or the catalogue changed under it.
Cause = Literal["department", "dataset_retired", "source_retired", "policy_replaced"]
CAUSES: tuple[Cause, ...] = ("department", "dataset_retired", "source_retired", "policy_replaced")


@dataclass(frozen=True)
class Closure:
    """One request to close: an approved query to revoke, or a pending request to reject."""

    row: QueryRequest
    app: str  # the app's principal name (the log records names)
    reason: str
    to_status: Literal["revoked", "rejected"]
    cause: Cause = "department"


def close_requests(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal, closures: Sequence[Closure]
) -> None:
    """Close every request in ``closures``; their entries are appended as one batch."""
    now = utcnow()
    entries: list[tuple[str, AuthPrincipal, dict[str, Any]]] = []
    for c in closures:
        c.row.status = c.to_status
        c.row.reason = c.reason
        c.row.revoke_cause = c.cause if c.to_status == "revoked" else None
        c.row.decided_by = principal.name
        c.row.decided_at = now
        # The reason is the department's own text: it stays on the request, not in the log.
        fields = {
            "dataset": c.row.dataset_id,
            "approved_query": c.row.id,
            "purpose": c.row.purpose,
            "app": c.app,
            "cause": None if c.cause == "department" else c.cause,
        }
        entries.append((f"request.{c.to_status}", principal, fields))
    session.flush()
    record_all_in(session, ctx, entries)
    for c in closures:
        # Queued in the outbox in this transaction: the app hears of it once it commits.
        notify.request_decided(
            session,
            query_request=c.row.id,
            dataset=c.row.dataset_id,
            app_id=c.row.app_id,
            status=c.to_status,
        )


def revoke_query(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    row: QueryRequest,
    *,
    app: str,
    reason: str,
    cause: Cause,
) -> None:
    """Revoke an approved query: no further runs; the app sees ``reason``."""
    close_requests(session, ctx, principal, [Closure(row, app, reason, "revoked", cause)])


def reject_request(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    row: QueryRequest,
    *,
    app: str,
    reason: str,
    cause: Cause = "department",
) -> None:
    """Reject a pending request with ``reason``."""
    close_requests(session, ctx, principal, [Closure(row, app, reason, "rejected", cause)])

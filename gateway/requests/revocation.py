"""Ending a query request's life: the one place a query is revoked or a request rejected.

A department revoking one query, a retired dataset or source, and a policy replacement
that breaks a query all close it here, so the row, its access-log entry and anything
that must follow a revocation (notifications) change together, in the caller's
transaction. The reason is stored on the request: the app reads it when it lists or
shows the request, and a run of a revoked query answers it.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from gateway.auditlog.service import record_in
from gateway.auth.principal import AuthPrincipal
from gateway.context import GatewayContext
from gateway.requests.models import QueryRequest
from gateway.store.base import utcnow
from gateway.webhooks import notify

# Why a query was revoked: its department said so, or the catalogue changed under it.
Cause = Literal["department", "dataset_retired", "source_retired", "policy_replaced"]
CAUSES: tuple[Cause, ...] = ("department", "dataset_retired", "source_retired", "policy_replaced")


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
    _close(session, ctx, principal, row, app=app, reason=reason, to_status="revoked", cause=cause)


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
    _close(session, ctx, principal, row, app=app, reason=reason, to_status="rejected", cause=cause)


def _close(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    row: QueryRequest,
    *,
    app: str,
    reason: str,
    to_status: Literal["revoked", "rejected"],
    cause: Cause,
) -> None:
    row.status = to_status
    row.reason = reason
    row.revoke_cause = cause if to_status == "revoked" else None
    row.decided_by = principal.name
    row.decided_at = utcnow()
    session.flush()
    # The reason is the department's own text: it stays on the request, not in the log.
    record_in(
        session,
        ctx,
        f"request.{to_status}",
        principal,
        dataset=row.dataset_id,
        approved_query=row.id,
        purpose=row.purpose,
        app=app,
        cause=None if cause == "department" else cause,
    )
    notify.request_decided(
        session, query_request=row.id, dataset=row.dataset_id, app_id=row.app_id, status=to_status
    )

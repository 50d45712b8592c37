"""All SQL of webhooks: endpoints, the outbox and the delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from gateway.auth.models import Principal
from gateway.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- endpoints ---------------------------------------------------------------------

    def lock_principal(self, principal_id: str) -> None:
        """Take the principal's row lock (PostgreSQL, MariaDB): its registrations take turns,
        so the per-principal limit holds under concurrent requests."""
        self.session.execute(
            select(Principal.id).where(Principal.id == principal_id).with_for_update()
        )

    def add(self, row: WebhookEndpoint) -> None:
        self.session.add(row)
        self.session.flush()

    def endpoints_of(self, principal_id: str) -> Sequence[WebhookEndpoint]:
        return self.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.principal_id == principal_id)
            .where(WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        ).all()

    def endpoint_of(self, principal_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """The principal's own live endpoint; another principal's is not found."""
        row = self.session.get(WebhookEndpoint, endpoint_id)
        if row is None or row.principal_id != principal_id or row.deleted_at is not None:
            return None
        return row

    def endpoint_and_owner(self, endpoint_id: str) -> tuple[WebhookEndpoint, bool] | None:
        """The endpoint and whether its principal is still active."""
        row = self.session.execute(
            select(WebhookEndpoint, Principal.active)
            .join(Principal, Principal.id == WebhookEndpoint.principal_id)
            .where(WebhookEndpoint.id == endpoint_id)
        ).first()
        return None if row is None else (row[0], bool(row[1]))

    def live_endpoints(
        self,
        *,
        principal_ids: Sequence[str] = (),
        department: str | None = None,
        auditors: bool = False,
    ) -> Sequence[WebhookEndpoint]:
        """Endpoints of active principals: these ids, a department's principals, auditors."""
        who: list[ColumnElement[bool]] = []
        if principal_ids:
            who.append(Principal.id.in_(list(principal_ids)))
        if department is not None:
            who.append((Principal.kind == "department") & (Principal.domain == department))
        if auditors:
            who.append(Principal.kind == "auditor")
        if not who:
            return []
        condition = or_(*who)
        return self.session.scalars(
            select(WebhookEndpoint)
            .join(Principal, Principal.id == WebhookEndpoint.principal_id)
            .where(WebhookEndpoint.deleted_at.is_(None), Principal.active.is_(True), condition)
            .order_by(WebhookEndpoint.id)
        ).all()

    # -- the outbox ----------------------------------------------------------------------

    def enqueue(self, rows: Sequence[WebhookMessage]) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def due(self, now: datetime, limit: int) -> Sequence[WebhookMessage]:
        return self.session.scalars(
            select(WebhookMessage)
            .where(WebhookMessage.state == "pending", WebhookMessage.next_attempt_at <= now)
            .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
            .limit(limit)
        ).all()

    def take(self, message_id: str, now: datetime, lease_until: datetime) -> bool:
        """Move a due message's next attempt past its lease, unless another worker did first."""
        result: Any = self.session.execute(
            update(WebhookMessage)
            .where(
                WebhookMessage.id == message_id,
                WebhookMessage.state == "pending",
                WebhookMessage.next_attempt_at <= now,
            )
            .values(next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)

    def settle(
        self, message_id: str, *, state: str, attempts: int, next_attempt_at: datetime
    ) -> None:
        self.session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.id == message_id)
            .values(state=state, attempts=attempts, next_attempt_at=next_attempt_at)
            .execution_options(synchronize_session=False)
        )

    def pending_count(self) -> int:
        count = self.session.scalar(
            select(func.count())
            .select_from(WebhookMessage)
            .where(WebhookMessage.state == "pending")
        )
        return int(count or 0)

    # -- the delivery log ---------------------------------------------------------------

    def log(self, row: WebhookDelivery) -> None:
        self.session.add(row)

    def deliveries(self, endpoint_id: str, limit: int) -> Sequence[tuple[WebhookDelivery, str]]:
        rows = self.session.execute(
            select(WebhookDelivery, WebhookMessage.event)
            .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        ).all()
        return [(d, e) for d, e in rows]

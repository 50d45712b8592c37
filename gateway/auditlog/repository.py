"""All SQL of the access log. Rows are only ever inserted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.auditlog.models import AuditEntryRow

# Any constant works; it only has to be the same in every gateway process.
_SEQUENCER_LOCK = 0x43444741


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_sequencer(self) -> None:
        """Serialise appenders so indexes form one gap-free order across processes."""
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            self.session.execute(text(f"SELECT pg_advisory_xact_lock({_SEQUENCER_LOCK})"))

    def next_index(self) -> int:
        last = self.session.scalar(select(func.max(AuditEntryRow.index)))
        return 0 if last is None else int(last) + 1

    def insert(self, row: AuditEntryRow) -> None:
        self.session.add(row)
        self.session.flush()

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(AuditEntryRow)) or 0)

    def entries(
        self,
        *,
        principals: Sequence[str] | None,
        datasets: Sequence[str] | None,
        principal: str | None,
        dataset: str | None,
        event: str | None,
        decision: str | None,
        since: datetime | None,
        until: datetime | None,
        after: int | None,
        limit: int,
    ) -> Sequence[AuditEntryRow]:
        stmt = select(AuditEntryRow).order_by(AuditEntryRow.index).limit(limit)
        if principals is not None:
            stmt = stmt.where(AuditEntryRow.principal.in_(principals))
        if datasets is not None:
            stmt = stmt.where(AuditEntryRow.dataset.in_(datasets))
        if principal is not None:
            stmt = stmt.where(AuditEntryRow.principal == principal)
        if dataset is not None:
            stmt = stmt.where(AuditEntryRow.dataset == dataset)
        if event is not None:
            stmt = stmt.where(AuditEntryRow.event == event)
        if decision is not None:
            stmt = stmt.where(AuditEntryRow.decision == decision)
        if since is not None:
            stmt = stmt.where(AuditEntryRow.recorded_at >= since)
        if until is not None:
            stmt = stmt.where(AuditEntryRow.recorded_at < until)
        if after is not None:
            stmt = stmt.where(AuditEntryRow.index > after)
        return self.session.scalars(stmt).all()

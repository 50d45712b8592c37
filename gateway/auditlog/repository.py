"""All SQL of the access log. Rows are only ever inserted."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway.auditlog.models import (
    AuditCheckpoint,
    AuditEntryRow,
    AuditNode,
    AuditSequencer,
    AuditSubject,
)


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

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

    def stream(self, batch: int = 5000) -> Iterator[tuple[int, str, str, bytes | None]]:
        """(index, entry, leaf_hash, stored tree leaf) in index order, read in batches."""
        last = -1
        leaf = AuditNode.__table__.alias("leaf")
        while True:
            rows = self.session.execute(
                select(
                    AuditEntryRow.index, AuditEntryRow.entry, AuditEntryRow.leaf_hash, leaf.c.hash
                )
                .outerjoin(leaf, (leaf.c.level == 0) & (leaf.c.idx == AuditEntryRow.index))
                .where(AuditEntryRow.index > last)
                .order_by(AuditEntryRow.index)
                .limit(batch)
            ).all()
            if not rows:
                return
            for index, entry, digest, node in rows:
                yield int(index), str(entry), str(digest), None if node is None else bytes(node)
            last = int(rows[-1][0])

    def checkpoints(self) -> Sequence[AuditCheckpoint]:
        return self.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size)).all()

    def latest_checkpoint(self) -> AuditCheckpoint | None:
        return self.session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
        ).first()

    def sequencer_size(self) -> int:
        size = self.session.scalar(select(AuditSequencer.size).where(AuditSequencer.id == 1))
        return int(size or 0)

    def entries_for_subject(self, subject_ref: str, limit: int) -> Sequence[AuditEntryRow]:
        return self.session.scalars(
            select(AuditEntryRow)
            .join(AuditSubject, AuditSubject.entry_index == AuditEntryRow.index)
            .where(AuditSubject.subject_ref == subject_ref)
            .order_by(AuditEntryRow.index)
            .limit(limit)
        ).all()

    def summary(
        self, by_dataset: bool, datasets: Sequence[str] | None, principals: Sequence[str] | None
    ) -> list[tuple[str | None, int, int, int, float]]:
        """(dataset or principal, runs, denials, rows released, privacy spent)."""
        key = AuditEntryRow.dataset if by_dataset else AuditEntryRow.principal
        run = (AuditEntryRow.event == "query.run") & (AuditEntryRow.decision == "allowed")
        stmt = (
            select(
                key,
                func.sum(case((run, 1), else_=0)),
                func.sum(case((AuditEntryRow.decision == "denied", 1), else_=0)),
                func.coalesce(func.sum(AuditEntryRow.row_count), 0),
                func.coalesce(func.sum(AuditEntryRow.privacy_cost), 0.0),
            )
            .group_by(key)
            .order_by(key)
        )
        if datasets is not None:
            stmt = stmt.where(AuditEntryRow.dataset.in_(datasets))
        if principals is not None:
            stmt = stmt.where(AuditEntryRow.principal.in_(principals))
        return [
            (k, int(r or 0), int(d or 0), int(n or 0), float(c or 0.0))
            for k, r, d, n, c in self.session.execute(stmt).all()
        ]

"""All SQL of the auditor's pages beyond the access log's own services: the charts' counts
and the search form's list of principals (gateway/console/auditor_data.py decides scope)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from gateway.auditlog.models import AuditEntryRow


class AuditorRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def hourly_counts(
        self,
        since: datetime,
        datasets: Collection[str] | None,
        principals: Collection[str] | None,
    ) -> Sequence[Row[Any, str, str | None, str, str, int]]:
        """(UTC hour bucket, principal, dataset, event, decision, count) of the runs that
        released data and of every denial since ``since``, narrowed to ``datasets`` and
        ``principals`` when given. The bucket is as the driver returns it (text on SQLite);
        a stored time that does not read back raises ``ValueError`` or ``DataError``."""
        e = AuditEntryRow
        hour = self._hour(e.recorded_at)
        counted = (e.event == "query.run") & (e.decision == "allowed") | (e.decision == "denied")
        stmt = (
            select(hour, e.principal, e.dataset, e.event, e.decision, func.count())
            .where(e.recorded_at >= since, counted)
            .group_by(hour, e.principal, e.dataset, e.event, e.decision)
        )
        if datasets is not None:
            stmt = stmt.where(e.dataset.in_(datasets))
        if principals is not None:
            stmt = stmt.where(e.principal.in_(principals))
        return self.session.execute(stmt).all()

    def _hour(self, column: Any) -> Any:
        """``column`` cut to its UTC hour, in the store's own SQL."""
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            return func.date_trunc("hour", column)
        if dialect in ("mysql", "mariadb"):
            return func.date_format(column, "%Y-%m-%d %H:00:00")
        return func.strftime("%Y-%m-%d %H:00:00", column)

    def principals_in_log(self, datasets: Collection[str] | None) -> list[str]:
        """Every principal named in the log, or in its entries on ``datasets`` when given."""
        stmt = select(AuditEntryRow.principal).distinct()
        if datasets is not None:
            stmt = stmt.where(AuditEntryRow.dataset.in_(datasets))
        return [n for (n,) in self.session.execute(stmt).all()]

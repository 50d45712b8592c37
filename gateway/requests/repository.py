"""All SQL of query requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.auth.models import Principal
from gateway.catalog.models import Dataset, Source
from gateway.requests.models import DailyRuns, QueryRequest

_REQUESTS = cast(Table, QueryRequest.__table__)
_DAILY = cast(Table, DailyRuns.__table__)


class RequestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, query_request_id: str) -> QueryRequest | None:
        return self.session.get(QueryRequest, query_request_id)

    def runnable(self, query_request_id: str) -> tuple[QueryRequest, Dataset, Source] | None:
        """The request with its dataset (and policy) and source: one SELECT for a run."""
        stmt = (
            select(QueryRequest, Dataset, Source)
            .join(Dataset, Dataset.id == QueryRequest.dataset_id)
            .join(Source, Source.id == Dataset.source_id)
            .where(QueryRequest.id == query_request_id)
        )
        row = self.session.execute(stmt).first()
        return None if row is None else (row[0], row[1], row[2])

    def add(self, row: QueryRequest) -> None:
        self.session.add(row)
        self.session.flush()

    def listing(
        self, *, app_id: str | None, owner: str | None, status: str | None, limit: int
    ) -> Sequence[tuple[QueryRequest, str]]:
        stmt = (
            select(QueryRequest, Principal.name)
            .join(Principal, Principal.id == QueryRequest.app_id)
            .order_by(QueryRequest.created_at.desc())
            .limit(limit)
        )
        if app_id is not None:
            stmt = stmt.where(QueryRequest.app_id == app_id)
        if owner is not None:
            stmt = stmt.join(Dataset, Dataset.id == QueryRequest.dataset_id).where(
                Dataset.owner == owner
            )
        if status is not None:
            stmt = stmt.where(QueryRequest.status == status)
        return [(r, n) for r, n in self.session.execute(stmt)]

    def open_on(self, dataset_ids: Sequence[str]) -> Sequence[tuple[QueryRequest, Principal]]:
        """Approved and pending requests on these datasets, with the app that filed each."""
        stmt = (
            select(QueryRequest, Principal)
            .join(Principal, Principal.id == QueryRequest.app_id)
            .where(
                QueryRequest.dataset_id.in_(list(dataset_ids)),
                QueryRequest.status.in_(("approved", "pending")),
            )
            .order_by(QueryRequest.created_at, QueryRequest.id)
        )
        return [(r, p) for r, p in self.session.execute(stmt)]

    def app_name(self, app_id: str) -> str:
        name = self.session.scalar(select(Principal.name).where(Principal.id == app_id))
        return name or ""

    # The run path's statements (runs today, the two counts) are Core statements on the
    # session's connection: the ORM's identity map and UPDATE synchronisation cost more
    # than the statements themselves, and nothing here needs objects.

    def runs_today(self, app: str, dataset_id: str, purpose: str, day: str) -> int:
        table = _DAILY.c
        stmt = select(table.runs).where(
            table.app == app,
            table.dataset_id == dataset_id,
            table.purpose == purpose,
            table.day == day,
        )
        return int(self.session.connection().scalar(stmt) or 0)

    def take_daily_run(
        self, app: str, dataset_id: str, purpose: str, day: str, quota: int | None
    ) -> bool:
        """Count one run of the day, under a daily quota or none, atomically across processes.

        Runs are counted even without a quota, so a quota added later in the day counts
        the runs already made. One upsert where the store has one (SQLite, PostgreSQL):
        the row is created at 1 or moved on while under the quota; a full day matches nothing.
        """
        if quota is not None and quota <= 0:
            return False
        dialect = self.session.get_bind().dialect.name
        if dialect in ("sqlite", "postgresql"):
            table = _DAILY
            insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
            stmt = (
                insert(table)
                .values(app=app, dataset_id=dataset_id, purpose=purpose, day=day, runs=1)
                .on_conflict_do_update(
                    index_elements=["app", "dataset_id", "purpose", "day"],
                    set_={"runs": table.c.runs + 1},
                    where=None if quota is None else table.c.runs < quota,
                )
                # A row comes back when one was counted (rowcount is not reliable here).
                .returning(table.c.runs)
            )
            return self.session.connection().execute(stmt).first() is not None
        key = (app, dataset_id, purpose, day)
        if self.session.get(DailyRuns, key) is None:
            try:
                with self.session.begin_nested():
                    self.session.add(
                        DailyRuns(app=app, dataset_id=dataset_id, purpose=purpose, day=day, runs=0)
                    )
            except IntegrityError:
                pass  # created by a concurrent run
        result: Any = self.session.execute(
            update(DailyRuns)
            .where(
                DailyRuns.app == app,
                DailyRuns.dataset_id == dataset_id,
                DailyRuns.purpose == purpose,
                DailyRuns.day == day,
                *([] if quota is None else [DailyRuns.runs < quota]),
            )
            .values(runs=DailyRuns.runs + 1)
        )
        return bool(result.rowcount == 1)

    def take_run(self, query_request_id: str) -> bool:
        """Count one run if the quota allows; atomic across gateway processes."""
        table = _REQUESTS.c
        stmt = (
            update(_REQUESTS)
            .where(table.id == query_request_id, table.status == "approved")
            .where(table.max_runs.is_(None) | (table.runs_used < table.max_runs))
            .values(runs_used=table.runs_used + 1)
        )
        result: Any = self.session.connection().execute(stmt)
        return bool(result.rowcount == 1)

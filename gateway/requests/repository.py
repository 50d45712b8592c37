"""All SQL of query requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.auth.models import Principal
from gateway.catalog.models import Dataset
from gateway.requests.models import QueryRequest


class RequestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, request_id: str) -> QueryRequest | None:
        return self.session.get(QueryRequest, request_id)

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

    def app_name(self, app_id: str) -> str:
        name = self.session.scalar(select(Principal.name).where(Principal.id == app_id))
        return name or ""

    def take_run(self, request_id: str) -> bool:
        """Count one run if the quota allows; atomic across gateway processes."""
        stmt = (
            update(QueryRequest)
            .where(QueryRequest.id == request_id, QueryRequest.status == "approved")
            .where(
                (QueryRequest.max_runs.is_(None)) | (QueryRequest.runs_used < QueryRequest.max_runs)
            )
            .values(runs_used=QueryRequest.runs_used + 1)
        )
        result: Any = self.session.execute(stmt)
        return bool(result.rowcount == 1)

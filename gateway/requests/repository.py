"""All SQL of query requests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth.models import Principal
from gateway.catalog.models import Dataset
from gateway.requests.models import QueryRequest


class RequestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, query_request_id: str) -> QueryRequest | None:
        return self.session.get(QueryRequest, query_request_id)

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

    def justifications(self, ids: set[str]) -> dict[str, str]:
        """The justification each app stated when it filed these queries (by request id)."""
        if not ids:
            return {}
        stmt = select(QueryRequest.id, QueryRequest.justification).where(
            QueryRequest.id.in_(sorted(ids))
        )
        return {str(i): str(j) for i, j in self.session.execute(stmt)}

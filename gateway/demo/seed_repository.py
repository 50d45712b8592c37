"""The demo seeding's own lookup: a request it filed and had approved on an earlier run."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.requests.models import QueryRequest


class SeedRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def approved_request(self, app_id: str, dataset_id: str, purpose: str) -> QueryRequest | None:
        """An approved request of ``app_id`` on ``dataset_id`` for ``purpose``, if any."""
        return self.session.scalars(
            select(QueryRequest).where(
                QueryRequest.app_id == app_id,
                QueryRequest.dataset_id == dataset_id,
                QueryRequest.purpose == purpose,
                QueryRequest.status == "approved",
            )
        ).first()

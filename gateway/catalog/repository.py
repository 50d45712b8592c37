"""All SQL of the catalog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.catalog.models import Dataset, PolicyVersion, Source, SourceIdentity
from gateway.store.base import utcnow


class CatalogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def source_by_name(self, name: str) -> Source | None:
        return self.session.scalars(select(Source).where(Source.name == name)).first()

    def source(self, source_id: str) -> Source | None:
        return self.session.get(Source, source_id)

    def sources(self, owner: str | None) -> Sequence[Source]:
        stmt = select(Source).order_by(Source.name)
        if owner is not None:
            stmt = stmt.where(Source.owner == owner)
        return self.session.scalars(stmt).all()

    def sources_without_identity(self) -> Sequence[Source]:
        return self.session.scalars(select(Source).where(Source.identity.is_(None))).all()

    def identity_owner(self, identity: str) -> str | None:
        row = self.session.get(SourceIdentity, identity)
        return row.owner if row is not None else None

    def dataset(self, dataset_id: str) -> Dataset | None:
        return self.session.get(Dataset, dataset_id)

    def dataset_by_name(self, name: str) -> Dataset | None:
        return self.session.scalars(select(Dataset).where(Dataset.name == name)).first()

    def datasets(self, *, live: bool = False) -> Sequence[Dataset]:
        """Every dataset by name; ``live``: only those not retired (the catalogue)."""
        stmt = select(Dataset).order_by(Dataset.name)
        if live:
            stmt = stmt.where(Dataset.retired_at.is_(None))
        return self.session.scalars(stmt).all()

    def datasets_of_source(self, source_id: str) -> Sequence[Dataset]:
        return self.session.scalars(
            select(Dataset).where(Dataset.source_id == source_id).order_by(Dataset.name)
        ).all()

    def earlier_policies(self, dataset: Dataset) -> Sequence[PolicyVersion]:
        """The dataset's stored policy versions other than the current one, newest first."""
        return self.session.scalars(
            select(PolicyVersion)
            .where(
                PolicyVersion.dataset_id == dataset.id,
                PolicyVersion.version != dataset.policy_version,
            )
            .order_by(PolicyVersion.created_at.desc())
        ).all()

    def add(self, row: Source | SourceIdentity | Dataset | PolicyVersion) -> None:
        self.session.add(row)
        self.session.flush()

    def claim_retirement(self, row: Source | Dataset, by: str, reason: str) -> bool:
        """Mark ``row`` retired unless it already is: one conditional UPDATE, so of two
        concurrent retirements exactly one wins (the other finds the row retired)."""
        model = type(row)
        result: Any = self.session.execute(
            update(model)
            .where(model.id == row.id, model.retired_at.is_(None))
            .values(retired_at=utcnow(), retired_by=by, retire_reason=reason)
            .execution_options(synchronize_session=False)
        )
        self.session.refresh(row)
        return bool(result.rowcount == 1)

    def has_policy_version(self, dataset_id: str, version: str) -> bool:
        return self.session.get(PolicyVersion, (dataset_id, version)) is not None

"""All SQL of privacy budgets and stored DP releases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.auth.models import Principal
from gateway.budget.models import BudgetLedger, DPRelease
from gateway.catalog.models import Dataset
from gateway.store.base import utcnow


class BudgetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def ensure_ledger(self, app_id: str, dataset_id: str, window: str, total: int) -> None:
        if self.session.get(BudgetLedger, (app_id, dataset_id, window)) is not None:
            return
        try:
            with self.session.begin_nested():
                self.session.add(
                    BudgetLedger(
                        app_id=app_id,
                        dataset_id=dataset_id,
                        window_start=window,
                        total_micro=total,
                        spent_micro=0,
                    )
                )
        except IntegrityError:
            pass  # another process created it first

    def reserve(self, app_id: str, dataset_id: str, window: str, total: int, cost: int) -> bool:
        """Add ``cost`` if it fits under ``total``: one conditional UPDATE, atomic everywhere."""
        stmt = (
            update(BudgetLedger)
            .where(
                BudgetLedger.app_id == app_id,
                BudgetLedger.dataset_id == dataset_id,
                BudgetLedger.window_start == window,
                BudgetLedger.spent_micro + cost <= total,
            )
            .values(
                spent_micro=BudgetLedger.spent_micro + cost, total_micro=total, updated_at=utcnow()
            )
        )
        result: Any = self.session.execute(stmt)
        return bool(result.rowcount == 1)

    def ledger(self, app_id: str, dataset_id: str, window: str) -> BudgetLedger | None:
        return self.session.get(BudgetLedger, (app_id, dataset_id, window))

    def ledgers(
        self, app_id: str | None, owner: str | None
    ) -> Sequence[tuple[BudgetLedger, str, str]]:
        stmt = (
            select(BudgetLedger, Principal.name, Dataset.name)
            .join(Principal, Principal.id == BudgetLedger.app_id)
            .join(Dataset, Dataset.id == BudgetLedger.dataset_id)
            .order_by(BudgetLedger.window_start.desc(), Principal.name, Dataset.name)
        )
        if app_id is not None:
            stmt = stmt.where(BudgetLedger.app_id == app_id)
        if owner is not None:
            stmt = stmt.where(Dataset.owner == owner)
        return [(row, app, ds) for row, app, ds in self.session.execute(stmt)]

    def release(self, key: str) -> DPRelease | None:
        return self.session.get(DPRelease, key)

    def add_release(self, row: DPRelease) -> bool:
        try:
            with self.session.begin_nested():
                self.session.add(row)
            return True
        except IntegrityError:
            return False  # an identical run stored its answer first

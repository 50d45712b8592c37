"""All SQL of privacy budgets and stored DP releases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.auth.models import Principal
from gateway.budget.caps import BudgetCaps
from gateway.budget.models import BudgetSpend, DatasetBudget, StoredRelease
from gateway.budget.windows import WINDOW_LENGTH
from gateway.catalog.models import Dataset

Cap = Literal["window", "lifetime", "dataset"]


@dataclass(frozen=True)
class Standing:
    """What one app has spent on one dataset, against the caps (micro-ε)."""

    window: str  # the window whose budget has least left
    window_total: int
    window_spent: int
    lifetime_total: int
    lifetime_spent: int
    dataset_total: int
    dataset_spent: int

    def refused_by(self, cost: int) -> Cap | None:
        if self.window_spent + cost > self.window_total:
            return "window"
        if self.lifetime_spent + cost > self.lifetime_total:
            return "lifetime"
        if self.dataset_spent + cost > self.dataset_total:
            return "dataset"
        return None


class BudgetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def reserve(
        self,
        app_id: str,
        dataset_id: str,
        purpose: str,
        caps: BudgetCaps,
        cost: int,
        now: datetime,
    ) -> tuple[Cap | None, Standing]:
        """Record a spend of ``cost`` if every cap holds; else name the cap that refused.
        Returns that and the standing before the spend (what alerts compare against).

        The first statement locks the dataset's counter row (a row lock on PostgreSQL, the
        write lock on SQLite), so the sums read next cannot change before the spend is
        written: concurrent reservations on one dataset take turns, in any process.
        """
        self._lock(dataset_id, now)
        before = self.standing(app_id, dataset_id, caps, now)
        refused = before.refused_by(cost)
        if refused is not None:
            return refused, before
        self.session.add(
            BudgetSpend(
                app_id=app_id, dataset_id=dataset_id, purpose=purpose, cost_micro=cost, spent_at=now
            )
        )
        self.session.execute(
            update(DatasetBudget)
            .where(DatasetBudget.dataset_id == dataset_id)
            .values(spent_micro=DatasetBudget.spent_micro + cost)
        )
        self.session.flush()
        return None, before

    def _lock(self, dataset_id: str, now: datetime) -> None:
        touch = (
            update(DatasetBudget)
            .where(DatasetBudget.dataset_id == dataset_id)
            .values(updated_at=now)
        )
        result: Any = self.session.execute(touch)
        if result.rowcount == 1:
            return
        try:
            with self.session.begin_nested():
                self.session.add(
                    DatasetBudget(dataset_id=dataset_id, spent_micro=0, updated_at=now)
                )
        except IntegrityError:
            pass  # another process created it first; the UPDATE below waits for it
        self.session.execute(touch)

    def standing(self, app_id: str, dataset_id: str, caps: BudgetCaps, now: datetime) -> Standing:
        """Rolling sums over the app's spends on the dataset, and the dataset's total."""
        windows = sorted(caps.windows)
        columns = [
            func.coalesce(
                func.sum(
                    case((BudgetSpend.spent_at > now - WINDOW_LENGTH[w], BudgetSpend.cost_micro))
                ),
                0,
            )
            for w in windows
        ]
        row = self.session.execute(
            select(func.coalesce(func.sum(BudgetSpend.cost_micro), 0), *columns).where(
                BudgetSpend.dataset_id == dataset_id, BudgetSpend.app_id == app_id
            )
        ).one()
        lifetime_spent, sums = int(row[0]), [int(v) for v in row[1:]]
        dataset_spent = self.session.scalar(
            select(DatasetBudget.spent_micro).where(DatasetBudget.dataset_id == dataset_id)
        )
        if windows:
            spent, window = min(
                ((caps.windows[w] - s, s, w) for w, s in zip(windows, sums, strict=True)),
            )[1:]
            total = caps.windows[window]
        else:  # no DP purpose left: nothing may be spent
            spent, window, total = 0, "month", 0
        return Standing(
            window=window,
            window_total=total,
            window_spent=spent,
            lifetime_total=caps.lifetime,
            lifetime_spent=lifetime_spent,
            dataset_total=caps.dataset,
            dataset_spent=int(dataset_spent or 0),
        )

    def spenders(
        self, app_id: str | None, owner: str | None
    ) -> Sequence[tuple[str, str, str, str, dict[str, Any]]]:
        """(app id, app name, dataset id, dataset name, policy) of every pair with a spend."""
        pairs = select(BudgetSpend.app_id, BudgetSpend.dataset_id).distinct().subquery()
        stmt = (
            select(Principal.id, Principal.name, Dataset.id, Dataset.name, Dataset.policy)
            .join_from(pairs, Principal, Principal.id == pairs.c.app_id)
            .join(Dataset, Dataset.id == pairs.c.dataset_id)
            .order_by(Principal.name, Dataset.name)
        )
        if app_id is not None:
            stmt = stmt.where(Principal.id == app_id)
        if owner is not None:
            stmt = stmt.where(Dataset.owner == owner)
        return [(a, an, d, dn, dict(p)) for a, an, d, dn, p in self.session.execute(stmt)]

    def release(self, key: str) -> StoredRelease | None:
        return self.session.get(StoredRelease, key)

    def add_release(self, row: StoredRelease) -> bool:
        try:
            with self.session.begin_nested():
                self.session.add(row)
            return True
        except IntegrityError:
            return False  # an identical run stored its answer first

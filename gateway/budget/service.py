"""Budgets: apps see theirs; departments see every app's spend on their datasets."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.access.permissions import listing_scope, require
from gateway.budget.caps import caps_of
from gateway.budget.repository import BudgetRepository, Standing
from gateway.budget.schemas import BudgetOut
from gateway.budget.windows import from_micro
from gateway.catalog.models import Dataset
from gateway.principal import AuthPrincipal
from gateway.store.base import utcnow


def list_budgets(session: Session, principal: AuthPrincipal) -> list[BudgetOut]:
    require("budget.read", principal)
    scope = listing_scope(principal)
    repo = BudgetRepository(session)
    now = utcnow()
    return [
        budget_view(app, dataset, dataset_id, repo.standing(app_id_, dataset_id, caps_of(p), now))
        for app_id_, app, dataset_id, dataset, p in repo.spenders(scope.app_id, scope.owner)
    ]


def epsilon_left(session: Session, app_id: str, dataset: Dataset) -> float:
    """The most ε the app's next run on ``dataset`` may spend (every cap held)."""
    standing = BudgetRepository(session).standing(
        app_id, dataset.id, caps_of(dataset.policy), utcnow()
    )
    return budget_view("", dataset.name, dataset.id, standing).available


def budget_view(app: str, dataset: str, dataset_id: str, s: Standing) -> BudgetOut:
    window_left = max(s.window_total - s.window_spent, 0)
    lifetime_left = max(s.lifetime_total - s.lifetime_spent, 0)
    dataset_left = max(s.dataset_total - s.dataset_spent, 0)
    return BudgetOut(
        app=app,
        dataset=dataset,
        dataset_id=dataset_id,
        window=s.window,
        total=from_micro(s.window_total),
        spent=from_micro(s.window_spent),
        remaining=from_micro(window_left),
        lifetime_total=from_micro(s.lifetime_total),
        lifetime_spent=from_micro(s.lifetime_spent),
        lifetime_remaining=from_micro(lifetime_left),
        dataset_total=from_micro(s.dataset_total),
        dataset_spent=from_micro(s.dataset_spent),
        dataset_remaining=from_micro(dataset_left),
        available=from_micro(min(window_left, lifetime_left, dataset_left)),
    )

"""Budgets: apps see theirs; departments see every app's spend on their datasets."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.auth.principal import AuthPrincipal
from gateway.budget.repository import BudgetRepository
from gateway.budget.schemas import BudgetOut
from gateway.budget.windows import from_micro


def list_budgets(session: Session, principal: AuthPrincipal) -> list[BudgetOut]:
    repo = BudgetRepository(session)
    app_id = principal.id if principal.kind == "app" else None
    owner = principal.domain if principal.kind == "department" else None
    return [
        BudgetOut(
            app=app,
            dataset=dataset,
            dataset_id=row.dataset_id,
            window_start=row.window_start,
            total=from_micro(row.total_micro),
            spent=from_micro(row.spent_micro),
            remaining=from_micro(max(row.total_micro - row.spent_micro, 0)),
        )
        for row, app, dataset in repo.ledgers(app_id, owner)
    ]

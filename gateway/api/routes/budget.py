"""HTTP route of privacy budgets."""

from __future__ import annotations

from gateway.api.dependencies import CurrentPrincipal, DbSession
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.budget.schemas import BudgetOut
from gateway.budget.service import list_budgets

router = api_router(prefix="/v1", tags=["budgets"], responses=ERRORS)


@router.get("/budgets", summary="Privacy budgets: an app's own; a department's datasets'")
def budgets(session: DbSession, who: CurrentPrincipal) -> list[BudgetOut]:
    return list_budgets(session, who)

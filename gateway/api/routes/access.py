"""HTTP route: explain a decision."""

from __future__ import annotations

from gateway.api.dependencies import Context, CurrentPrincipal, DbSession
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.decisions.explain import explain
from gateway.decisions.schemas import ExplainOut, ExplainRequest

router = api_router(prefix="/v1/decisions", tags=["decisions"], responses=ERRORS)


@router.post("/explain", summary="Which rule would allow or deny this request (runs nothing)")
def explain_decision(
    body: ExplainRequest, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> ExplainOut:
    return explain(session, ctx, who, body)

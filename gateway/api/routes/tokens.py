"""HTTP route: reverse a token (owning departments, audited)."""

from __future__ import annotations

from gateway.api.dependencies import Context, CurrentPrincipal, DbSession, RequestId
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.tokens.schemas import ReverseOut, ReverseRequest
from gateway.tokens.service import reverse

router = api_router(prefix="/v1/tokens", tags=["tokens"], responses=ERRORS)


@router.post("/reverse", summary="Reverse a token of your own dataset (departments; logged)")
def reverse_token(
    body: ReverseRequest, session: DbSession, ctx: Context, who: CurrentPrincipal, rid: RequestId
) -> ReverseOut:
    return reverse(session, ctx, who, body, rid)

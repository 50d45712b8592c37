"""HTTP routes of the access log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gateway.api.dependencies import CurrentPrincipal, DbSession
from gateway.api.schemas import ERRORS
from gateway.auditlog.schemas import AuditEntryOut
from gateway.auditlog.service import list_entries

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERRORS)


@router.get("/entries", summary="Access-log entries the caller may see, oldest first")
def entries(
    session: DbSession,
    who: CurrentPrincipal,
    dataset: str | None = None,
    app: str | None = None,
    event: str | None = None,
    decision: Literal["allowed", "denied", "none"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Annotated[int | None, Query(ge=-1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    return list_entries(
        session,
        who,
        dataset_id=dataset,
        app=app,
        event=event,
        decision=decision,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )

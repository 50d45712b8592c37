"""HTTP routes of query requests."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from gateway.api.dependencies import Context, CurrentPrincipal, DbSession
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.requests import service
from gateway.requests.schemas import Approval, QueryRequestCreate, QueryRequestOut, Rejection

router = api_router(prefix="/v1/query-requests", tags=["query requests"], responses=ERRORS)

Status = Literal["pending", "approved", "rejected", "expired", "revoked"]


@router.post("", status_code=201, summary="File a query request (apps)")
def create(
    body: QueryRequestCreate, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> QueryRequestOut:
    return service.file_request(session, ctx, who, body)


@router.get("", summary="Requests the caller filed (apps) or must decide (departments)")
def listing(
    session: DbSession,
    who: CurrentPrincipal,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[QueryRequestOut]:
    return service.list_requests(session, who, status, limit)


@router.get("/{query_request}", summary="One request")
def get(query_request: str, session: DbSession, who: CurrentPrincipal) -> QueryRequestOut:
    return service.get_request(session, who, query_request)


@router.post("/{query_request}/approve", summary="Approve, optionally narrowing (departments)")
def approve(
    query_request: str, body: Approval, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> QueryRequestOut:
    return service.approve(session, ctx, who, query_request, body)


@router.post("/{query_request}/reject", summary="Reject with a reason (departments)")
def reject(
    query_request: str, body: Rejection, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> QueryRequestOut:
    return service.reject(session, ctx, who, query_request, body)


@router.post(
    "/{query_request}/revoke", summary="Revoke an approved query; no further runs (departments)"
)
def revoke(
    query_request: str, body: Rejection, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> QueryRequestOut:
    return service.revoke(session, ctx, who, query_request, body)

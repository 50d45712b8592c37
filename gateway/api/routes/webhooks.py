"""HTTP routes of webhooks: each principal manages its own endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from gateway.api.dependencies import Context, CurrentPrincipal, DbSession
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.webhooks import service
from gateway.webhooks.schemas import DeliveryOut, WebhookCreate, WebhookCreated, WebhookOut

router = api_router(prefix="/v1/webhooks", tags=["webhooks"], responses=ERRORS)


@router.post(
    "",
    status_code=201,
    summary="Register a webhook endpoint for the caller; the secret is shown once",
)
def create(
    body: WebhookCreate, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> WebhookCreated:
    return service.register(session, ctx, who, body)


@router.get("", summary="The caller's webhook endpoints (never their secrets)")
def listing(session: DbSession, who: CurrentPrincipal) -> list[WebhookOut]:
    return service.listing(session, who)


@router.delete("/{webhook_id}", status_code=204, summary="Delete one of the caller's endpoints")
def delete(webhook_id: str, session: DbSession, ctx: Context, who: CurrentPrincipal) -> Response:
    service.delete(session, ctx, who, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", summary="Delivery attempts to one endpoint, newest first")
def deliveries(
    webhook_id: str,
    session: DbSession,
    who: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    return service.deliveries(session, who, webhook_id, limit)

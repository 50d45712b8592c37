"""Registering, listing and deleting one's own webhook endpoints; reading their delivery log.

Every kind of principal may manage endpoints, each only its own: another principal's
endpoint is answered "no such webhook" (404), as if it did not exist. Registration and
deletion are written to the access log with the change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from gateway.access.permissions import require
from gateway.auditlog.service import record_in
from gateway.context import GatewayContext
from gateway.errors import Conflict, NotFound
from gateway.principal import AuthPrincipal
from gateway.store.base import new_id, utcnow
from gateway.webhooks.models import WebhookEndpoint
from gateway.webhooks.repository import WebhookRepository
from gateway.webhooks.schemas import DeliveryOut, WebhookCreate, WebhookCreated, WebhookOut
from gateway.webhooks.secrets_at_rest import seal
from gateway.webhooks.signing import new_secret
from gateway.webhooks.urls import allowed_hosts, check_url

MAX_ENDPOINTS = 10  # per principal: enough for a main and a standby receiver, and a test


def _out(row: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(id=row.id, url=row.url, created_at=row.created_at)


def register(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal, body: WebhookCreate
) -> WebhookCreated:
    require("webhook.register", principal)
    check_url(body.url, allowed_hosts(ctx.settings.webhook_hosts))
    repo = WebhookRepository(session)
    repo.lock_principal(principal.id)
    if len(repo.endpoints_of(principal.id)) >= MAX_ENDPOINTS:
        raise Conflict(f"a principal may register at most {MAX_ENDPOINTS} webhook endpoints")
    secret = new_secret()
    endpoint_id = new_id("wh")
    sealed, version = seal(ctx.keyring, endpoint_id, secret)
    row = WebhookEndpoint(
        id=endpoint_id,
        principal_id=principal.id,
        url=body.url,
        secret_sealed=sealed,
        key_version=version,
        created_at=utcnow(),
    )
    repo.add(row)
    # Counted again with the new row written: on SQLite the count above ran before this
    # transaction held the write lock, so concurrent registrations are caught here.
    if len(repo.endpoints_of(principal.id)) > MAX_ENDPOINTS:
        raise Conflict(f"a principal may register at most {MAX_ENDPOINTS} webhook endpoints")
    record_in(
        session,
        ctx,
        "webhook.registered",
        principal,
        webhook=row.id,
        webhook_host=urlsplit(body.url).hostname,
    )
    return WebhookCreated(id=row.id, url=row.url, created_at=row.created_at, secret=secret)


def listing(session: Session, principal: AuthPrincipal) -> list[WebhookOut]:
    require("webhook.list", principal)
    return [_out(r) for r in WebhookRepository(session).endpoints_of(principal.id)]


def _own(
    session: Session, principal: AuthPrincipal, action: str, webhook_id: str
) -> WebhookEndpoint:
    require(action, principal)
    row = WebhookRepository(session).endpoint_of(principal.id, webhook_id)
    if row is None:
        raise NotFound("no such webhook")
    return row


def delete(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal, webhook_id: str
) -> None:
    """Messages still in the outbox for it are dropped at their next attempt."""
    row = _own(session, principal, "webhook.delete", webhook_id)
    row.deleted_at = utcnow()
    session.flush()
    record_in(session, ctx, "webhook.deleted", principal, webhook=row.id)


def deliveries(
    session: Session, principal: AuthPrincipal, webhook_id: str, limit: int
) -> list[DeliveryOut]:
    row = _own(session, principal, "webhook.deliveries", webhook_id)
    return [
        DeliveryOut(
            message_id=d.message_id,
            event=event,
            attempt=d.attempt,
            attempted_at=d.attempted_at,
            outcome=d.outcome,
            status_code=d.status_code,
            duration_ms=d.duration_ms,
            error=d.error,
        )
        for d, event in WebhookRepository(session).deliveries(row.id, limit)
    ]

"""Notifications: which event goes to whom, written to the outbox in the caller's transaction.

Call these inside the transaction of the change they report and never commit here: the
message then exists exactly when the change does. Payloads carry ids and a status only
(no resident data, no query text, no results): a receiver that wants more asks the API
with its own key, and the permission module answers as for any other call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from gateway.store.base import new_id, utcnow
from gateway.webhooks.models import WebhookEndpoint, WebhookMessage
from gateway.webhooks.repository import WebhookRepository

# Event type -> who receives it (documented in docs/webhooks.md).
EVENTS: dict[str, str] = {
    "request.filed": "the department owning the dataset",
    "request.approved": "the app that filed the request",
    "request.rejected": "the app that filed the request",
    "request.revoked": "the app that filed the request",
    "budget.nearly_spent": "the app and the department owning the dataset",
    "audit.verify_failed": "every auditor",
}


def _enqueue(
    session: Session, endpoints: Sequence[WebhookEndpoint], event: str, data: dict[str, Any]
) -> int:
    assert event in EVENTS, event
    now = utcnow()
    rows = []
    for endpoint in endpoints:
        msg_id = new_id("msg")
        payload = {"type": event, "timestamp": now.isoformat(timespec="seconds"), "data": data}
        rows.append(
            WebhookMessage(
                id=msg_id,
                endpoint_id=endpoint.id,
                event=event,
                payload=payload,
                created_at=now,
                state="pending",
                attempts=0,
                next_attempt_at=now,
            )
        )
    if rows:
        WebhookRepository(session).enqueue(rows)
    return len(rows)


def request_filed(session: Session, *, query_request: str, dataset: str, owner: str) -> int:
    """A request awaits approval: to every department principal of the owning department."""
    endpoints = WebhookRepository(session).live_endpoints(department=owner)
    data = {"query_request": query_request, "dataset": dataset, "status": "pending"}
    return _enqueue(session, endpoints, "request.filed", data)


def request_decided(
    session: Session, *, query_request: str, dataset: str, app_id: str, status: str
) -> int:
    """A request was approved, rejected or revoked: to the app that filed it."""
    endpoints = WebhookRepository(session).live_endpoints(principal_ids=[app_id])
    data = {"query_request": query_request, "dataset": dataset, "status": status}
    return _enqueue(session, endpoints, f"request.{status}", data)


def budget_nearly_spent(
    session: Session, *, app_id: str, dataset: str, owner: str, cap: str, threshold: float
) -> int:
    """An app's spend on a dataset crossed the alert threshold of one of its caps."""
    endpoints = WebhookRepository(session).live_endpoints(principal_ids=[app_id], department=owner)
    data = {
        "dataset": dataset,
        "app": app_id,
        "cap": cap,
        "threshold": threshold,
        "status": "nearly_spent",
    }
    return _enqueue(session, endpoints, "budget.nearly_spent", data)


def verify_failed(session: Session, *, tree_size: int, problems: int) -> int:
    """``cdg audit verify`` found the log damaged."""
    endpoints = WebhookRepository(session).live_endpoints(auditors=True)
    data = {"tree_size": tree_size, "problems": problems, "status": "failed"}
    return _enqueue(session, endpoints, "audit.verify_failed", data)

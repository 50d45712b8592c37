"""Query requests: apps file them, owning departments approve, reject or revoke.

A request is checked when filed (could this app ever get this, for this
purpose?) and again at every run (gateway.queries.pipeline). Every step of its
life is written to the access log in the same transaction as the change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.access.permissions import Resource, listing_scope, require, require_caller
from gateway.auditlog.service import record, record_in
from gateway.catalog.models import Dataset
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.service import dataset_resource
from gateway.context import GatewayContext
from gateway.decisions.facts import decide_for
from gateway.errors import Conflict, Forbidden, InvalidRequest, NotFound
from gateway.principal import AuthPrincipal
from gateway.queries.binding import DatasetView, bind_params, check_spec
from gateway.queries.value_sets import refused_values
from gateway.requests.models import QueryRequest
from gateway.requests.repository import RequestRepository
from gateway.requests.revocation import reject_request, revoke_query
from gateway.requests.schemas import Approval, QueryRequestCreate, QueryRequestOut, Rejection
from gateway.requests.status import effective_status
from gateway.store.base import new_id, utcnow
from gateway.webhooks import notify
from policies import Decision, Denial


def request_out(row: QueryRequest, app_name: str) -> QueryRequestOut:
    return QueryRequestOut(
        id=row.id,
        app=app_name,
        dataset=row.dataset_id,
        purpose=row.purpose,
        justification=row.justification,
        kind=row.kind,
        spec=row.spec,
        example_params=row.example_params,
        status=effective_status(row),
        reason=row.reason,
        revoke_cause=row.revoke_cause,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        expires_at=row.expires_at,
        max_runs=row.max_runs,
        row_cap=row.row_cap,
        runs_used=row.runs_used,
        created_at=row.created_at,
    )


def _decision_fields(result: Decision | Denial) -> dict[str, Any]:
    return {
        "allowed": result.allowed,
        "reason_code": result.code if isinstance(result, Denial) else "granted",
    }


def file_request(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal, body: QueryRequestCreate
) -> QueryRequestOut:
    require_caller("request.file", principal)
    dataset = CatalogRepository(session).dataset(body.dataset)
    if dataset is None:
        raise NotFound("no such dataset")
    require("request.file", principal, dataset_resource(dataset, principal))
    check_spec(body.spec, DatasetView.of(dataset))
    examples = bind_params(body.spec, body.example_params)
    result: Decision | Denial = decide_for(
        session, ctx, principal.facts(), dataset, body.purpose, body.spec
    )
    if isinstance(result, Decision):
        result = refused_values(body.spec, result, examples) or result
    audit_fields: dict[str, Any] = {
        "dataset": dataset.id,
        "purpose": body.purpose,
        "policy_version": dataset.policy_version,
        "decision": _decision_fields(result),
    }
    if isinstance(result, Denial):
        # Through the log's own transaction: the denial stays on record although the
        # request fails and the caller's unit of work (which wrote nothing) rolls back.
        record(ctx, "request.denied", principal, **audit_fields)
        raise Forbidden(result.reason, reason=result.code)
    automatic = result.approval == "automatic"
    row = QueryRequest(
        id=new_id("qr"),
        app_id=principal.id,
        dataset_id=dataset.id,
        purpose=body.purpose,
        justification=body.justification,
        kind=body.spec.kind,
        spec=body.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True),
        example_params=body.example_params,
        status="approved" if automatic else "pending",
        reason="pre-approved template" if automatic else "",
        decided_by="policy" if automatic else None,
        decided_at=utcnow() if automatic else None,
    )
    repo = RequestRepository(session)
    repo.add(row)
    record_in(
        session,
        ctx,
        "request.approved" if automatic else "request.filed",
        principal,
        approved_query=row.id,
        legal_basis=result.legal_basis,
        **audit_fields,
    )
    if automatic:
        notify.request_decided(
            session, query_request=row.id, dataset=dataset.id, app_id=row.app_id, status="approved"
        )
    else:
        notify.request_filed(session, query_request=row.id, dataset=dataset.id, owner=dataset.owner)
    return request_out(row, principal.name)


def _request(
    session: Session, principal: AuthPrincipal, action: str, query_request_id: str
) -> tuple[QueryRequest, Dataset]:
    """The request and its dataset, once ``principal`` may do ``action`` on it."""
    require_caller(action, principal)
    row = RequestRepository(session).get(query_request_id)
    dataset = session.get(Dataset, row.dataset_id) if row is not None else None
    if row is None or dataset is None:
        raise NotFound("no such query request")
    require(action, principal, Resource(owner=dataset.owner, app_id=row.app_id))
    return row, dataset


def get_request(
    session: Session, principal: AuthPrincipal, query_request_id: str
) -> QueryRequestOut:
    row, _ = _request(session, principal, "request.read", query_request_id)
    return request_out(row, RequestRepository(session).app_name(row.app_id))


def list_requests(
    session: Session, principal: AuthPrincipal, status: str | None, limit: int
) -> list[QueryRequestOut]:
    require("request.list", principal)
    scope = listing_scope(principal)
    stored_status = "approved" if status == "expired" else status
    rows = RequestRepository(session).listing(
        app_id=scope.app_id, owner=scope.owner, status=stored_status, limit=limit
    )
    out = [request_out(r, name) for r, name in rows]
    return [o for o in out if status is None or o.status == status]


def approve(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    query_request_id: str,
    body: Approval,
) -> QueryRequestOut:
    row, dataset = _request(session, principal, "request.approve", query_request_id)
    if row.status != "pending":
        state = effective_status(row)
        raise Conflict(f"only a pending request can be approved; this one is {state}")
    # The schema already required a time zone and a time inside the accepted range.
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise InvalidRequest("expires_at is in the past")
    app = RequestRepository(session).app_name(row.app_id)
    now = utcnow()
    row.status = "approved"
    row.reason = body.note
    row.decided_by = principal.name
    row.decided_at = now
    row.expires_at = body.expires_at
    row.max_runs = body.max_runs
    row.row_cap = body.row_cap
    session.flush()
    record_in(
        session,
        ctx,
        "request.approved",
        principal,
        dataset=dataset.id,
        approved_query=row.id,
        purpose=row.purpose,
        app=app,
        policy_version=dataset.policy_version,
    )
    notify.request_decided(
        session, query_request=row.id, dataset=dataset.id, app_id=row.app_id, status="approved"
    )
    return request_out(row, app)


def _close(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    query_request_id: str,
    body: Rejection,
    *,
    action: str,
    from_status: str,
    to_status: str,
) -> QueryRequestOut:
    row, _ = _request(session, principal, action, query_request_id)
    if row.status != from_status:
        raise Conflict(
            f"only a {from_status} request can become {to_status}; "
            f"this one is {effective_status(row)}"
        )
    app = RequestRepository(session).app_name(row.app_id)
    close = revoke_query if to_status == "revoked" else reject_request
    close(session, ctx, principal, row, app=app, reason=body.reason, cause="department")
    return request_out(row, app)


def reject(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    query_request_id: str,
    body: Rejection,
) -> QueryRequestOut:
    return _close(
        session,
        ctx,
        principal,
        query_request_id,
        body,
        action="request.reject",
        from_status="pending",
        to_status="rejected",
    )


def revoke(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    query_request_id: str,
    body: Rejection,
) -> QueryRequestOut:
    return _close(
        session,
        ctx,
        principal,
        query_request_id,
        body,
        action="request.revoke",
        from_status="approved",
        to_status="revoked",
    )

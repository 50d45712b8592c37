"""A resident's access history: who received rows about them, when, and why.

Found through the subject index, which verification proves complete (each entry
commits to its SubjectRefs). Every filter (the datasets the caller may see,
``since``, the ``after`` cursor) applies in the query, before the limit, so a page is
never short because of rows the caller may not see. Reading a history is itself logged.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.access.permissions import require
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.schemas import SubjectAccess
from gateway.auditlog.service import record, visible_scope
from gateway.auth.principal import AuthPrincipal
from gateway.catalog.models import Dataset
from gateway.context import GatewayContext
from gateway.requests.models import QueryRequest


def history(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    subject_ref: str,
    *,
    since: datetime | None,
    after: int | None,
    limit: int,
    request_id: str,
) -> list[SubjectAccess]:
    require("resident.history", principal)
    datasets, _ = visible_scope(session, principal)
    rows = AuditRepository(session).entries_for_subject(
        subject_ref, datasets=datasets, since=since, after=after, limit=limit
    )
    entries = [(row.index, json.loads(row.entry)) for row in rows]
    names = _dataset_names(session, {e.get("dataset") for _, e in entries})
    reasons = _justifications(session, {e.get("approved_query") for _, e in entries})
    # Logged without the SubjectRef: the entry says that a history was read, not whose.
    record(ctx, "subject.history", principal, entries_shown=len(entries), request_id=request_id)
    return [
        SubjectAccess(
            index=index,
            time=str(entry.get("time", "")),
            app=str(entry.get("principal", "")),
            purpose=entry.get("purpose"),
            legal_basis=entry.get("legal_basis"),
            dataset=entry.get("dataset"),
            dataset_name=names.get(entry.get("dataset")),
            justification=reasons.get(entry.get("approved_query")),
            columns=list(entry.get("columns", [])),
        )
        for index, entry in entries
    ]


def _dataset_names(session: Session, ids: set[object]) -> dict[object, str]:
    wanted = [i for i in ids if isinstance(i, str)]
    if not wanted:
        return {}
    stmt = select(Dataset.id, Dataset.name).where(Dataset.id.in_(wanted))
    return {str(i): str(n) for i, n in session.execute(stmt)}


def _justifications(session: Session, ids: set[object]) -> dict[object, str]:
    """The justification each app stated when it filed the query (shown to the resident)."""
    wanted = [i for i in ids if isinstance(i, str)]
    if not wanted:
        return {}
    stmt = select(QueryRequest.id, QueryRequest.justification).where(QueryRequest.id.in_(wanted))
    return {str(i): str(j) for i, j in session.execute(stmt)}

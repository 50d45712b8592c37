"""A resident's access history: who received rows about them, when, and why.

Found through the subject index, which verification proves complete (each entry
commits to its SubjectRefs). Every filter (the datasets the caller may see,
``since``, the ``after`` cursor) applies in the query, before the limit, so a page is
never short because of rows the caller may not see. Reading a history is itself logged.

What a history shows comes from the entries: the dataset's name as the run's entry
recorded it, and the app's justification only beside a flag saying whether it is still
the text whose SHA-256 digest the entry recorded. The justification is free text an app
wrote, so the log keeps its digest rather than the text (the text stays where it can be
corrected or erased); the digest is enough to show that it was changed afterwards.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from gateway.access.permissions import require
from gateway.auditlog.log_context import LogContext
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.schemas import SubjectAccess
from gateway.auditlog.service import columns_damaged, record, visible_scope
from gateway.auditlog.subjects import SUBJECT_REF
from gateway.auth.principal import AuthPrincipal
from gateway.requests.models import QueryRequest


def is_subject_ref(value: str) -> bool:
    return SUBJECT_REF.fullmatch(value) is not None


def justification_digest(text: str) -> str:
    """What a run's entry records of the app's justification: SHA-256 of its UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def history(
    session: Session,
    ctx: LogContext,
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
    try:
        rows = AuditRepository(session).entries_for_subject(
            subject_ref, datasets=datasets, since=since, after=after, limit=limit
        )
    except (ValueError, DataError):  # a stored time that does not read back
        raise columns_damaged("reading a history") from None
    entries = [(row.index, json.loads(row.entry)) for row in rows]
    reasons = _justifications(session, {e.get("approved_query") for _, e in entries})
    # Logged without the SubjectRef: the entry says that a history was read, not whose.
    record(ctx, "subject.history", principal, entries_shown=len(entries), request_id=request_id)
    out = []
    for index, entry in entries:
        reason = reasons.get(entry.get("approved_query"))
        committed = entry.get("justification_digest")
        matches = None
        if isinstance(committed, str) and reason is not None:
            matches = justification_digest(reason) == committed
        name = entry.get("dataset_name")
        out.append(
            SubjectAccess(
                index=index,
                time=str(entry.get("time", "")),
                app=str(entry.get("principal", "")),
                purpose=entry.get("purpose"),
                legal_basis=entry.get("legal_basis"),
                dataset=entry.get("dataset"),
                dataset_name=name if isinstance(name, str) else None,
                justification=reason,
                justification_matches_log=matches,
                columns=list(entry.get("columns", [])),
            )
        )
    return out


def _justifications(session: Session, ids: set[object]) -> dict[object, str]:
    """The justification each app stated when it filed the query (shown to the resident)."""
    wanted = [i for i in ids if isinstance(i, str)]
    if not wanted:
        return {}
    stmt = select(QueryRequest.id, QueryRequest.justification).where(QueryRequest.id.in_(wanted))
    return {str(i): str(j) for i, j in session.execute(stmt)}

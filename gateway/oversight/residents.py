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

import json
from datetime import datetime

from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from gateway.access.permissions import require
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.residents import justification_digest
from gateway.auditlog.schemas import SubjectAccess
from gateway.auditlog.service import columns_damaged, record
from gateway.context import GatewayContext
from gateway.oversight.listings import visible_scope
from gateway.principal import AuthPrincipal
from gateway.requests.repository import RequestRepository


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
    try:
        rows = AuditRepository(session).entries_for_subject(
            subject_ref, datasets=datasets, since=since, after=after, limit=limit
        )
    except (ValueError, DataError):  # a stored time that does not read back
        raise columns_damaged("reading a history") from None
    entries = [(row.index, json.loads(row.entry)) for row in rows]
    reasons = RequestRepository(session).justifications(
        {q for _, e in entries if isinstance(q := e.get("approved_query"), str)}
    )
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

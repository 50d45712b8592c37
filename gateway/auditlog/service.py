"""Writing and reading the access log.

``append`` runs in its own transaction and commits before it returns: an entry
must be durable before any response that depends on it exists, whatever happens
to the caller's own transaction (a denial rolls that back, yet stays logged).
Entries hold no raw personal data: who asked, for what, under which policy
version, what was released (column names and treatments, row count, a digest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit import canonical_json, leaf_hash
from gateway.auditlog.models import AuditEntryRow
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.schemas import AuditEntryOut
from gateway.auth.principal import AuthPrincipal
from gateway.catalog.repository import CatalogRepository
from gateway.store.base import utcnow
from gateway.store.engine import Store

_APPEND_ATTEMPTS = 20


@dataclass(frozen=True)
class Receipt:
    entry_index: int
    leaf_hash: str
    recorded_at: datetime


def _entry(event: str, principal: AuthPrincipal, fields: dict[str, Any]) -> dict[str, Any]:
    recorded_at = utcnow()
    entry: dict[str, Any] = {
        "event": event,
        "time": recorded_at.isoformat(timespec="microseconds"),
        "principal": principal.name,
        "principal_kind": principal.kind,
        "role": principal.role,
        "domain": principal.domain,
        **{k: v for k, v in fields.items() if v is not None},
    }
    data = canonical_json(entry)
    decision = entry.get("decision", {}).get("allowed")
    return {
        "recorded_at": recorded_at,
        "entry": data.decode("utf-8"),
        "leaf_hash": leaf_hash(data).hex(),
        "principal": principal.name,
        "dataset": fields.get("dataset"),
        "event": event,
        "decision": "none" if decision is None else ("allowed" if decision else "denied"),
    }


def _insert(session: Session, row_fields: dict[str, Any]) -> Receipt:
    repo = AuditRepository(session)
    repo.lock_sequencer()
    index = repo.next_index()
    repo.insert(AuditEntryRow(index=index, **row_fields))
    return Receipt(
        entry_index=index, leaf_hash=row_fields["leaf_hash"], recorded_at=row_fields["recorded_at"]
    )


def append(store: Store, event: str, principal: AuthPrincipal, **fields: Any) -> Receipt:
    """Append one entry in its own transaction and commit it before returning."""
    row_fields = _entry(event, principal, fields)
    for _ in range(_APPEND_ATTEMPTS):
        try:
            with store.transaction() as session:
                return _insert(session, row_fields)
        except IntegrityError:
            # Another process took this index (SQLite has no sequencer lock); try the next.
            continue
    raise RuntimeError("could not append to the audit log")


def append_in(session: Session, event: str, principal: AuthPrincipal, **fields: Any) -> Receipt:
    """Append within the caller's transaction: the entry commits together with the change."""
    row_fields = _entry(event, principal, fields)
    for _ in range(_APPEND_ATTEMPTS):
        try:
            with session.begin_nested():
                return _insert(session, row_fields)
        except IntegrityError:
            continue
    raise RuntimeError("could not append to the audit log")


def entry_out(row: AuditEntryRow) -> AuditEntryOut:
    return AuditEntryOut(
        index=row.index,
        recorded_at=row.recorded_at,
        leaf_hash=row.leaf_hash,
        entry=json.loads(row.entry),
    )


def list_entries(
    session: Session,
    principal: AuthPrincipal,
    *,
    dataset_id: str | None,
    app: str | None,
    event: str | None,
    decision: str | None,
    since: datetime | None,
    until: datetime | None,
    after: int | None,
    limit: int,
) -> list[AuditEntryOut]:
    """Auditors see everything; departments entries on their datasets; apps their own."""
    principals: list[str] | None = None
    datasets: list[str] | None = None
    if principal.kind == "app":
        principals = [principal.name]
    elif principal.kind == "department":
        datasets = [
            d.id for d in CatalogRepository(session).datasets() if d.owner == principal.domain
        ]
    rows = AuditRepository(session).entries(
        principals=principals,
        datasets=datasets,
        principal=app,
        dataset=dataset_id,
        event=event,
        decision=decision,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )
    return [entry_out(r) for r in rows]

"""What auditors, departments and apps read of the access log: listings, exports, summaries.

Auditors see everything; a department the entries on the datasets it owns (the catalogue
says which); an app its own. Every filter applies in the query, before the limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from audit import StoreError
from gateway.access.permissions import listing_scope, require
from gateway.auditlog.export import export_records
from gateway.auditlog.log_context import LogContext
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.schemas import AuditEntryOut, SummaryRow
from gateway.auditlog.service import (
    columns_damaged,
    entry_out,
    tree_damaged,
    unauthenticated_tail,
)
from gateway.auditlog.tail import UnauthenticatedEntry
from gateway.catalog.repository import CatalogRepository
from gateway.principal import AuthPrincipal


@dataclass(frozen=True)
class EntryFilter:
    """What an auditor asks of the log: the same filters for listing and exporting."""

    dataset: str | None = None
    app: str | None = None
    event: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None  # a registered outcome (events.OUTCOMES)
    subject: str | None = None  # a SubjectRef: entries that released rows about that resident

    def query(self, datasets: list[str] | None, principals: list[str] | None) -> dict[str, Any]:
        """Keyword arguments of ``AuditRepository.entries``, narrowed to what may be seen."""
        return {
            "principals": principals,
            "datasets": datasets,
            "principal": self.app,
            "dataset": self.dataset,
            "event": self.event,
            "decision": self.decision,
            "since": self.since,
            "until": self.until,
            "outcome": self.outcome,
            "subject": self.subject,
        }


def list_entries(
    session: Session, principal: AuthPrincipal, wanted: EntryFilter, after: int | None, limit: int
) -> list[AuditEntryOut]:
    """Auditors see everything; departments entries on their datasets; apps their own."""
    require("log.read", principal)
    query = wanted.query(*visible_scope(session, principal))
    try:
        rows = AuditRepository(session).entries(after=after, limit=limit, **query)
        return [entry_out(r) for r in rows]
    except (ValueError, DataError):  # a stored time that does not read back (PG: infinity)
        raise columns_damaged("listing") from None


def export(
    ctx: LogContext, principal: AuthPrincipal | None, wanted: EntryFilter
) -> Iterator[dict[str, Any]]:
    """Sign a checkpoint now, then yield matching entries with proofs to it.

    ``principal`` None is the operator at the command line (everything). Refusals and the
    checkpoint happen here, before the first record is produced.
    """
    if principal is not None:
        require("log.export", principal)
    with ctx.store.transaction() as session:
        scope = visible_scope(session, principal) if principal is not None else (None, None)
        # Every proof of the stream needs the tree whole: refuse before the first line,
        # never break the stream halfway.
        if AuditRepository(session).missing_nodes(AuditRepository(session).sequencer_size()):
            raise tree_damaged("export")
        if AuditRepository(session).misspelt_times():
            raise columns_damaged("export")
        try:
            row = ctx.audit.appender.checkpoint_now(session)
        except (KeyError, StoreError):
            raise tree_damaged("export") from None
        except UnauthenticatedEntry:
            raise unauthenticated_tail() from None
        checkpoint = (row.size, row.note) if row is not None else (0, "")
    signer = ctx.audit.appender.signer
    origin = ctx.settings.log_origin
    return export_records(ctx.store, checkpoint, wanted.query(*scope), signer.sign_note, origin)


def visible_scope(
    session: Session, principal: AuthPrincipal
) -> tuple[list[str] | None, list[str] | None]:
    """(datasets, principals) filters for what this principal may read of the log."""
    scope = listing_scope(principal)
    datasets = (
        None
        if scope.owner is None
        else [d.id for d in CatalogRepository(session).datasets() if d.owner == scope.owner]
    )
    return datasets, None if scope.app_name is None else [scope.app_name]


def summary(session: Session, principal: AuthPrincipal, by: str) -> list[SummaryRow]:
    require("log.summary", principal)
    datasets, principals = visible_scope(session, principal)
    rows = AuditRepository(session).summary(by == "dataset", datasets, principals)
    return [
        SummaryRow(key=k, runs=r, denials=d, rows_released=n, privacy_spent=c)
        for k, r, d, n, c in rows
    ]

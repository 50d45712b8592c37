"""What the auditor's pages show, gathered through the access log's own services.

Nothing here decides who may see what: listing, proofs, checkpoints and verification
ask ``gateway.access.permissions`` inside the services they call (``log.read``,
``proof.read``, ``checkpoint.read``, ``log.summary``, ``resident.lookup``), and the
listing is narrowed by the same scope as ``GET /v1/audit/entries``. Times are bucketed
and shown in the configured zone (``CDG_TIME_ZONE``); the store keeps UTC.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from audit import CheckpointError, canonical_json, leaf_hash, open_checkpoint, verify_inclusion
from gateway.access.permissions import require
from gateway.auditlog import service
from gateway.auditlog.events import EVENTS, OUTCOMES, REASONS, Kind
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.residents import is_subject_ref
from gateway.auditlog.schemas import SubjectLookup
from gateway.auditlog.signing import verifier_keys
from gateway.catalog.repository import CatalogRepository
from gateway.console.auditor_repository import AuditorRepository
from gateway.context import GatewayContext
from gateway.errors import InvalidRequest, NotFound
from gateway.oversight import listings
from gateway.principal import AuthPrincipal

PAGE = 50  # entries per page of a search
MAX_DAYS = 92  # the longest span the charts draw


def label(registry: dict[str, Kind], name: str | None, locale: str) -> str:
    """The registered words for an event, outcome or reason, in the visitor's language."""
    kind = registry.get(name or "")
    if kind is None:
        return name or ""
    return kind.zh if locale == "zh_CN" else kind.en


@dataclass(frozen=True)
class LogQuery:
    """The search form: local dates (inclusive), names, and a resident (ID number or ref)."""

    start: date | None = None
    end: date | None = None
    app: str | None = None
    dataset: str | None = None
    event: str | None = None
    outcome: str | None = None
    resident: str | None = None

    def params(self) -> dict[str, str]:
        """The form's fields as query parameters (paging and export links repeat them)."""
        out = {
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "app": self.app or "",
            "dataset": self.dataset or "",
            "event": self.event or "",
            "outcome": self.outcome or "",
        }
        return {k: v for k, v in out.items() if v}


def entry_filter(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    q: LogQuery,
    zone: ZoneInfo,
    request_id: str,
) -> listings.EntryFilter:
    """The log filter for a search; a resident's ID number is resolved (and that is logged)."""
    if q.event is not None and q.event not in EVENTS:
        raise InvalidRequest("unknown event")
    if q.outcome is not None and q.outcome not in OUTCOMES:
        raise InvalidRequest("unknown outcome")
    if q.start and q.end and q.end < q.start:
        raise InvalidRequest("the end date is before the start date")
    since = datetime.combine(q.start, time(), tzinfo=zone) if q.start else None
    until = datetime.combine(q.end + timedelta(days=1), time(), tzinfo=zone) if q.end else None
    subject = None
    if q.resident:
        text = q.resident.strip()
        if is_subject_ref(text):
            subject = text
        else:
            try:
                number = SubjectLookup(id_number=text).id_number
            except ValidationError:
                # Never repeat the value: it may be a resident's ID number.
                raise InvalidRequest(
                    "not a valid resident ID number (18 characters or 15 digits)"
                ) from None
            subject = service.subject_ref_for(ctx, principal, number, request_id).subject_ref
    return listings.EntryFilter(
        dataset=q.dataset,
        app=q.app,
        event=q.event,
        since=since,
        until=until,
        outcome=q.outcome,
        subject=subject,
    )


@dataclass(frozen=True)
class EntryLine:
    """One entry as a row of the search results."""

    index: int
    recorded_at: datetime
    event: str
    principal: str
    principal_kind: str
    dataset: str | None
    dataset_name: str | None
    purpose: str | None
    allowed: bool | None
    reason_code: str | None
    outcome: str | None
    row_count: int | None


def _line(index: int, recorded_at: datetime, entry: dict[str, Any]) -> EntryLine:
    decision = entry.get("decision")
    allowed = decision.get("allowed") if isinstance(decision, dict) else None
    reason = decision.get("reason_code") if isinstance(decision, dict) else None
    rows = entry.get("row_count")
    name = entry.get("dataset_name")
    return EntryLine(
        index=index,
        recorded_at=recorded_at,
        event=str(entry.get("event", "")),
        principal=str(entry.get("principal", "")),
        principal_kind=str(entry.get("principal_kind", "")),
        dataset=entry.get("dataset") if isinstance(entry.get("dataset"), str) else None,
        dataset_name=name if isinstance(name, str) else None,
        purpose=entry.get("purpose") if isinstance(entry.get("purpose"), str) else None,
        allowed=allowed if isinstance(allowed, bool) else None,
        reason_code=reason if isinstance(reason, str) else None,
        outcome=entry.get("outcome") if isinstance(entry.get("outcome"), str) else None,
        row_count=rows if isinstance(rows, int) else None,
    )


@dataclass(frozen=True)
class SearchPage:
    lines: list[EntryLine]
    next_after: int | None  # pass as ``after`` for the next page; None on the last


def search(
    session: Session, principal: AuthPrincipal, wanted: listings.EntryFilter, after: int | None
) -> SearchPage:
    found = listings.list_entries(session, principal, wanted, after, PAGE + 1)
    lines = [_line(e.index, e.recorded_at, e.entry) for e in found[:PAGE]]
    return SearchPage(lines, lines[-1].index if len(found) > PAGE else None)


@dataclass(frozen=True)
class CheckpointInfo:
    size: int
    root: str  # base64, as in the note
    note: str
    signed_at: datetime
    signature_ok: bool  # the note verifies with the log's published keys and matches the row


def latest_checkpoint(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal
) -> CheckpointInfo | None:
    require("checkpoint.read", principal)
    row = AuditRepository(session).latest_checkpoint()
    if row is None:
        return None
    origin = ctx.settings.log_origin
    try:
        opened = open_checkpoint(row.note, verifier_keys(ctx.keyring, origin), origin=origin)
        ok = opened.size == row.size and opened.root == bytes(row.root)
    except CheckpointError:
        ok = False
    return CheckpointInfo(
        row.size, base64.b64encode(bytes(row.root)).decode(), row.note, row.signed_at, ok
    )


@dataclass(frozen=True)
class EntryDetail:
    line: EntryLine
    entry_json: str  # the entry, indented for reading (the hashed text is canonical JSON)
    entry_text: str  # the canonical text whose hash is the leaf
    leaf_hash: str
    checkpoint: CheckpointInfo | None
    proof: list[str] = field(default_factory=list)  # base64 hashes, RFC 9162 order
    # True: the proof leads from this entry's leaf to the signed checkpoint's root;
    # None: no signed checkpoint covers the entry yet.
    included: bool | None = None


def receipt(detail: EntryDetail) -> dict[str, Any] | None:
    """The entry's proof bundle, as a run's ``receipt`` (``cdg audit verify-receipt``):
    None until a signed checkpoint covers the entry."""
    if not detail.included or detail.checkpoint is None:
        return None
    return {
        "entry_index": detail.line.index,
        "leaf_hash": detail.leaf_hash,
        "tree_size": detail.checkpoint.size,
        "inclusion_proof": detail.proof,
        "checkpoint": detail.checkpoint.note,
        "entry": detail.entry_text,
    }


def entry_detail(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal, index: int
) -> EntryDetail:
    """One entry the caller may see, with its inclusion proof to the newest checkpoint."""
    found = listings.list_entries(session, principal, listings.EntryFilter(), index - 1, 1)
    if not found or found[0].index != index:
        raise NotFound("no such entry")
    out = found[0]
    line = _line(out.index, out.recorded_at, out.entry)
    pretty = json.dumps(out.entry, ensure_ascii=False, indent=2, sort_keys=True)
    text = canonical_json(out.entry).decode("utf-8")
    checkpoint = latest_checkpoint(session, ctx, principal)
    if checkpoint is None or index >= checkpoint.size:
        return EntryDetail(line, pretty, text, out.leaf_hash, checkpoint)
    require("proof.read", principal)
    proof = service.inclusion_proof(session, index, checkpoint.size)
    included = checkpoint.signature_ok and verify_inclusion(
        bytes.fromhex(proof.leaf_hash),
        index,
        checkpoint.size,
        [base64.b64decode(p) for p in proof.proof],
        base64.b64decode(checkpoint.root),
    )
    # The leaf must also be this entry's text: hashed here, not taken from the store.
    included = included and proof.leaf_hash == leaf_hash(text.encode("utf-8")).hex()
    return EntryDetail(line, pretty, text, out.leaf_hash, checkpoint, proof.proof, included)


@dataclass(frozen=True)
class Activity:
    """Counts per local day: runs that released data, by app and by dataset; denials."""

    days: list[date]
    by_app: dict[str, list[int]]
    by_dataset: dict[str, list[int]]
    denials: list[int]
    dataset_names: dict[str, str]

    @property
    def labels(self) -> list[str]:
        return [d.strftime("%m-%d") for d in self.days]


def activity(
    session: Session, principal: AuthPrincipal, *, days: int, zone: ZoneInfo, today: date
) -> Activity:
    """The last ``days`` local days up to ``today``, within what the caller may read."""
    require("log.summary", principal)
    days = max(1, min(days, MAX_DAYS))
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time(), tzinfo=zone)
    datasets, principals = listings.visible_scope(session, principal)
    by_app: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    by_dataset: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    denials = [0] * days
    try:
        # Counted by the database per UTC hour (a handful of rows per hour, however busy the
        # log), then placed in local days here: exact for zones whose offset is whole hours.
        rows = AuditorRepository(session).hourly_counts(since, datasets, principals)
        for bucket, who, dataset, event, decision, n in rows:
            slot = (_utc(bucket).astimezone(zone).date() - first).days
            if not 0 <= slot < days:
                continue
            if decision == "denied":
                denials[slot] += n
            elif event == "query.run":
                by_app[who][slot] += n
                by_dataset[dataset or "-"][slot] += n
    except (ValueError, DataError):  # a stored time that does not read back
        raise service.columns_damaged("drawing charts") from None
    names = {d.id: d.name for d in CatalogRepository(session).datasets()}
    return Activity(
        [first + timedelta(days=i) for i in range(days)],
        dict(by_app),
        dict(by_dataset),
        denials,
        {k: names.get(k, k) for k in by_dataset},
    )


def _utc(bucket: object) -> datetime:
    """An hour bucket as the driver returns it (text on SQLite), as an aware UTC time."""
    value = bucket if isinstance(bucket, datetime) else datetime.fromisoformat(str(bucket))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def reason_label(code: str | None, locale: str) -> str:
    return label(REASONS, code, locale)


def known_apps(session: Session, principal: AuthPrincipal) -> list[str]:
    """Principal names for the search form, only from entries the caller may read."""
    datasets, principals = listings.visible_scope(session, principal)
    if principals is not None:
        return sorted(principals)
    return sorted(AuditorRepository(session).principals_in_log(datasets))


def known_datasets(session: Session, principal: AuthPrincipal) -> list[tuple[str, str]]:
    """(id, name) of the datasets the caller's part of the log may mention."""
    datasets, _ = listings.visible_scope(session, principal)
    rows = CatalogRepository(session).datasets()
    return sorted(
        ((d.id, d.name) for d in rows if datasets is None or d.id in datasets), key=lambda x: x[1]
    )

"""Recording to and reading the access log.

``record`` appends through the process's batching writer and returns once the
entry is committed: an entry must be durable before any response that depends
on it exists, whatever happens to the caller's own transaction (a denial rolls
that back, yet stays logged). ``record_in`` appends inside the caller's
transaction, so a change and its entry commit together.
Entries hold no raw personal data: who asked, for what, under which policy
version, what was released (column names and treatments, row count, a digest),
and residents only as SubjectRefs in a separate index.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from audit import MerkleTree, StoreError
from audit.tree import proof_nodes
from gateway.access.permissions import require
from gateway.auditlog.events import check
from gateway.auditlog.log_context import LogContext
from gateway.auditlog.models import AuditEntryRow
from gateway.auditlog.nodestore import SqlNodeStore
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.schemas import (
    AuditEntryOut,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    SubjectRefOut,
)
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.store_verify import verify_stored, workers_for
from gateway.auditlog.tail import UnauthenticatedEntry
from gateway.auditlog.verify import Report, WitnessPolicy
from gateway.auditlog.witnessing import witness_policy
from gateway.auditlog.writer import AuditUnavailable, Pending, Receipt
from gateway.errors import Conflict, NotFound, Unavailable
from gateway.metrics import count_entry
from gateway.principal import AuthPrincipal
from gateway.store.base import utcnow

log = logging.getLogger("cdg.audit")


def _pending(
    event: str, principal: AuthPrincipal, subjects: list[str] | None, fields: dict[str, Any]
) -> Pending:
    check(event, fields.get("outcome"))
    count_entry(event, fields.get("outcome"), fields.get("decision"))
    entry: dict[str, Any] = {
        "event": event,
        "time": utcnow().isoformat(timespec="microseconds"),
        "principal": principal.name,
        "principal_kind": principal.kind,
        "role": principal.role,
        "domain": principal.domain,
        **{k: v for k, v in fields.items() if v is not None},
    }
    if subjects is not None:
        entry["subject_count"] = len(subjects)
    return Pending(entry=entry, subjects=subjects or [])


def record(
    ctx: LogContext,
    event: str,
    principal: AuthPrincipal,
    subjects: list[str] | None = None,
    **fields: Any,
) -> Receipt:
    """Append one entry (batched with others) and return after it is committed."""
    try:
        return ctx.audit.append(_pending(event, principal, subjects, fields))
    except AuditUnavailable as exc:
        raise _unwritable(exc) from None


def record_in(
    session: Session, ctx: LogContext, event: str, principal: AuthPrincipal, **fields: Any
) -> Receipt:
    """Append within the caller's transaction: the entry commits together with the change."""
    try:
        return ctx.audit.append_in(session, _pending(event, principal, None, fields))
    except AuditUnavailable as exc:
        raise _unwritable(exc) from None


def _unwritable(exc: AuditUnavailable) -> Unavailable:
    """Nothing leaves without its entry: the caller gets a 503, the operator the cause.

    The writer's messages are its own (no data); they say what an operator must fix.
    """
    log.error("the access log refused an append: %s", exc)
    return Unavailable(
        "访问日志暂时无法写入，未发布任何数据 / the access log cannot be written now; "
        "nothing was released",
        reason="audit_unavailable",
        retry_after=5,
    )


def entry_out(row: AuditEntryRow) -> AuditEntryOut:
    return AuditEntryOut(
        index=row.index,
        recorded_at=row.recorded_at,
        leaf_hash=row.leaf_hash,
        entry=json.loads(row.entry),
    )


def latest_checkpoint(session: Session, ctx: LogContext) -> CheckpointOut:
    row = AuditRepository(session).latest_checkpoint()
    if row is None:
        raise NotFound("the log has no checkpoint yet")
    return _checkpoint_out(ctx, row.size, row.root, row.note)


def _checkpoint_out(ctx: LogContext, size: int, root: bytes, note: str) -> CheckpointOut:
    return CheckpointOut(
        origin=ctx.settings.log_origin,
        size=size,
        root=base64.b64encode(root).decode("ascii"),
        note=note,
        verifier_keys=verifier_keys(ctx.keyring, ctx.settings.log_origin),
    )


def issue_checkpoint(session: Session, ctx: LogContext, principal: AuthPrincipal) -> CheckpointOut:
    require("checkpoint.create", principal)
    try:
        row = ctx.audit.appender.checkpoint_now(session)
    except UnauthenticatedEntry:
        raise unauthenticated_tail() from None
    if row is None:
        raise Conflict("the log is empty")
    return _checkpoint_out(ctx, row.size, row.root, row.note)


def unauthenticated_tail() -> Unavailable:
    # The signer refused (and logged the entry's index): an entry not written by the gateway.
    return Unavailable(
        "the access log holds an entry the gateway did not write; no checkpoint is signed "
        "until an operator has examined it with `cdg audit verify`",
        reason="audit_log_unauthenticated_entry",
        retry_after=3600,
    )


def columns_damaged(reading: str) -> Unavailable:
    """A stored time in audit_entries does not read back: derived data was changed.

    Answered before any data (never a 500 or a stream broken halfway); logged by kind only.
    """
    log.error(
        "audit_entries holds a stored time in another form while %s; run `cdg audit verify`",
        reading,
    )
    return Unavailable(
        "the access log's stored columns are damaged; an operator must run `cdg audit verify`",
        reason="audit_log_columns_damaged",
        retry_after=3600,
    )


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def tree_damaged(proof: str) -> Unavailable:
    # Nodes are derived data: a missing one is restored by `cdg audit repair`, and until
    # then the proof cannot be made. Logged by kind only (no sizes or indexes of a caller).
    log.error("audit tree node missing while making a %s proof; run `cdg audit repair`", proof)
    return Unavailable(
        "the access log's tree is incomplete; an operator must run `cdg audit repair`",
        reason="audit_tree_incomplete",
        retry_after=60,
    )


_MAX_SIZE = 1 << 62  # past any log: such a request is answered 404 without a read of nodes


def inclusion_proof(session: Session, index: int, tree_size: int) -> InclusionProofOut:
    store = SqlNodeStore(session)
    # The size, the path's nodes and the leaf in one query; the checks below still apply.
    if 0 <= index < tree_size < _MAX_SIZE:
        store.prefetch([*proof_nodes(index, tree_size), (0, index)])
    tree = MerkleTree(store)
    if not 0 <= index < tree_size <= tree.size():
        raise NotFound("no such entry in a tree of that size")
    store.want((0, index))  # the leaf comes with the path's nodes, in the same query
    try:
        proof = _b64(tree.inclusion_proof(index, tree_size))
        return InclusionProofOut(
            index=index,
            tree_size=tree_size,
            leaf_hash=store.get(0, index).hex(),
            proof=proof,
        )
    except (KeyError, StoreError):
        raise tree_damaged("inclusion") from None


def consistency_proof(session: Session, old_size: int, new_size: int) -> ConsistencyProofOut:
    store = SqlNodeStore(session)
    if 0 <= old_size <= new_size < _MAX_SIZE:
        store.prefetch(proof_nodes(old_size, new_size, consistency=True))
    tree = MerkleTree(store)
    if not 0 < old_size <= new_size <= tree.size():
        raise NotFound("no tree of those sizes")
    try:
        proof = tree.consistency_proof(old_size, new_size)
    except (KeyError, StoreError):
        raise tree_damaged("consistency") from None
    return ConsistencyProofOut(old_size=old_size, new_size=new_size, proof=_b64(proof))


def verify_store(
    session: Session,
    ctx: LogContext,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
    trust: tuple[Sequence[str], str, WitnessPolicy] | None = None,
    workers: int | None = None,
) -> Report:
    """The log as stored: entries, checkpoints, and everything derived from the entries.

    ``trust`` (log verifier keys, origin, witness policy) replaces the gateway's own
    configuration: an auditor's keys file counts online exactly as it does offline.
    ``workers`` processes check ranges of the log side by side (default: the setting
    ``audit_verify_workers``; 1 checks in this process).
    """
    if trust is None:
        origin = ctx.settings.log_origin
        trust = (verifier_keys(ctx.keyring, origin), origin, witness_policy(ctx.settings))
    keys, origin, witnesses = trust
    repo = AuditRepository(session)
    report, derived = verify_stored(
        session,
        ctx.audit.appender.macs,
        keys,
        origin,
        witnesses,
        since=since,
        progress=progress,
        workers=workers_for(ctx.settings.audit_verify_workers if workers is None else workers),
    )
    derived.finish(report.entries, report.signed_size)
    report.problems.extend(derived.problems)
    if report.entries > report.signed_size:
        try:
            report.oldest_unsigned = repo.first_entry_time(report.signed_size)
        except ValueError:  # an unreadable time: reported above as a changed column
            report.oldest_unsigned = None
    return report


def subject_ref_for(
    ctx: LogContext, principal: AuthPrincipal, id_number: str, request_id: str
) -> SubjectRefOut:
    """Departments turn an ID number into the SubjectRef the log indexes; audited."""
    require("resident.lookup", principal)
    ref = ctx.subjects.ref(id_number)
    record(ctx, "subject.lookup", principal, subject_lookups=1, request_id=request_id)
    return SubjectRefOut(subject_ref=ref)

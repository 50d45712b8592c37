"""HTTP routes of the access log, its proofs, and residents' access history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from gateway.access.permissions import require
from gateway.api.dependencies import Context, CurrentPrincipal, DbSession, RequestId
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.auditlog import residents, service
from gateway.auditlog.export import as_csv, as_jsonl
from gateway.auditlog.schemas import (
    AuditEntryOut,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    ResidentLinkCreate,
    ResidentLinkIssued,
    ResidentLinkOut,
    SubjectAccess,
    SubjectLookup,
    SubjectRefOut,
    SummaryRow,
    VerifyOut,
)
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.verify_report import verify_report
from gateway.bounds import INT64_MAX, Instant
from gateway.errors import NotFound
from gateway.oversight import listings, resident_links
from gateway.oversight import residents as resident_history

router = api_router(prefix="/v1/audit", tags=["audit"], responses=ERRORS)
subjects_router = api_router(prefix="/v1/subjects", tags=["residents"], responses=ERRORS)
public_router = api_router(tags=["audit"])

Decision = Literal["allowed", "denied", "none"]
Outcome = Literal["ok", "refused", "source_error", "timeout", "error"]  # events.OUTCOMES
# A resident, by SubjectRef (POST /v1/subjects/lookup turns an ID number into one).
Subject = Annotated[str | None, Query(pattern=r"^s_[a-z2-7]{26}$")]


@router.get("/entries", summary="Access-log entries the caller may see, oldest first")
def entries(
    session: DbSession,
    who: CurrentPrincipal,
    dataset: str | None = None,
    app: str | None = None,
    event: str | None = None,
    decision: Decision | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
    after: Annotated[int | None, Query(ge=-1, le=INT64_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    outcome: Outcome | None = None,
    subject: Subject = None,
) -> list[AuditEntryOut]:
    wanted = listings.EntryFilter(dataset, app, event, decision, since, until, outcome, subject)
    return listings.list_entries(session, who, wanted, after, limit)


@router.get("/checkpoint", summary="The newest signed checkpoint and the log's public keys")
def checkpoint(session: DbSession, ctx: Context, who: CurrentPrincipal) -> CheckpointOut:
    require("checkpoint.read", who)
    return service.latest_checkpoint(session, ctx)


@router.post("/checkpoint", summary="Sign and store a checkpoint now (auditors)")
def new_checkpoint(session: DbSession, ctx: Context, who: CurrentPrincipal) -> CheckpointOut:
    return service.issue_checkpoint(session, ctx, who)


@router.get("/verify", summary="Verify the whole stored log now, as `cdg audit verify` (auditors)")
def verify(session: DbSession, ctx: Context, who: CurrentPrincipal) -> VerifyOut:
    return verify_report(session, ctx, who)


@router.get("/proofs/inclusion", summary="RFC 6962 inclusion proof of one entry")
def inclusion(
    session: DbSession,
    who: CurrentPrincipal,
    index: Annotated[int, Query(ge=0, le=INT64_MAX)],
    tree_size: Annotated[int, Query(ge=1, le=INT64_MAX)],
) -> InclusionProofOut:
    require("proof.read", who)
    return service.inclusion_proof(session, index, tree_size)


@router.get("/proofs/consistency", summary="RFC 6962 consistency proof between two sizes")
def consistency(
    session: DbSession,
    who: CurrentPrincipal,
    old_size: Annotated[int, Query(ge=1, le=INT64_MAX)],
    new_size: Annotated[int, Query(ge=1, le=INT64_MAX)],
) -> ConsistencyProofOut:
    require("proof.read", who)
    return service.consistency_proof(session, old_size, new_size)


@router.get("/summary", summary="Runs, denials, rows released and privacy spent")
def summary(
    session: DbSession, who: CurrentPrincipal, by: Literal["dataset", "app"] = "dataset"
) -> list[SummaryRow]:
    return listings.summary(session, who, by)


@router.get(
    "/export",
    summary="Export entries with inclusion proofs to a fresh signed checkpoint",
    response_class=StreamingResponse,
)
def export(
    ctx: Context,
    who: CurrentPrincipal,
    format: Literal["jsonl", "csv"] = "jsonl",
    dataset: str | None = None,
    app: str | None = None,
    event: str | None = None,
    decision: Decision | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
    outcome: Outcome | None = None,
    subject: Subject = None,
) -> StreamingResponse:
    wanted = listings.EntryFilter(dataset, app, event, decision, since, until, outcome, subject)
    records = listings.export(ctx, who, wanted)
    body = as_csv(records) if format == "csv" else as_jsonl(records)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(body, media_type=media)


@subjects_router.post(
    "/lookup", summary="A resident's SubjectRef from an ID number (departments, auditors)"
)
def lookup(
    body: SubjectLookup, ctx: Context, who: CurrentPrincipal, rid: RequestId
) -> SubjectRefOut:
    return service.subject_ref_for(ctx, who, body.id_number, rid)


@subjects_router.get("/{subject_ref}/accesses", summary="Who received rows about a resident")
def accesses(
    subject_ref: Annotated[str, Path(min_length=1, max_length=64)],
    session: DbSession,
    ctx: Context,
    who: CurrentPrincipal,
    rid: RequestId,
    since: Instant | None = None,
    after: Annotated[int | None, Query(ge=-1, le=INT64_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SubjectAccess]:
    if not residents.is_subject_ref(subject_ref):
        # Before any lookup: a raw ID number here is a caller's mistake, never a key.
        raise NotFound("no such resident reference")
    return resident_history.history(
        session, ctx, who, subject_ref, since=since, after=after, limit=limit, request_id=rid
    )


@subjects_router.post(
    "/links",
    status_code=201,
    summary="Issue a resident a one-time, expiring link to their access history (departments)",
)
def issue_link(
    body: ResidentLinkCreate,
    session: DbSession,
    ctx: Context,
    who: CurrentPrincipal,
    rid: RequestId,
) -> ResidentLinkIssued:
    return resident_links.issue(session, ctx, who, body, rid)


@subjects_router.get("/links", summary="Resident links the caller's department issued")
def list_links(session: DbSession, who: CurrentPrincipal) -> list[ResidentLinkOut]:
    return resident_links.list_links(session, who)


@subjects_router.post("/links/{link_id}/revoke", summary="Revoke a resident link before it is used")
def revoke_link(
    link_id: Annotated[str, Path(min_length=1, max_length=32)],
    session: DbSession,
    ctx: Context,
    who: CurrentPrincipal,
    rid: RequestId,
) -> ResidentLinkOut:
    return resident_links.revoke(session, ctx, who, link_id, rid)


@public_router.get(
    "/.well-known/cdg-audit-keys",
    response_class=PlainTextResponse,
    summary="The log's origin and note verifier keys, one per line (public)",
)
def published_keys(ctx: Context) -> str:
    return "\n".join(verifier_keys(ctx.keyring, ctx.settings.log_origin)) + "\n"

"""Running an approved query (DESIGN.md, "One query, end to end").

Each step that must survive a crash commits on its own: the run is counted
before the source is touched, and the access-log entry is committed before
the result is returned. A denial is logged, then raised.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from anonymizers import OperatorContext
from gateway.access.permissions import Resource, allowed
from gateway.auditlog.service import record
from gateway.auditlog.writer import Receipt
from gateway.auth.principal import AuthPrincipal
from gateway.catalog.engines import SourceResult, execute
from gateway.catalog.models import Dataset, Source
from gateway.catalog.service import source_engine
from gateway.context import GatewayContext
from gateway.errors import GatewayError, SourceTimeout
from gateway.queries.binding import DatasetView, bind_params
from gateway.queries.classes import class_columns
from gateway.queries.dp_run import run_dp
from gateway.queries.planner import plan
from gateway.queries.release import Release, release_aggregates, release_rows
from gateway.queries.runs import Loaded, RunContext, audit_fields, deny
from gateway.queries.schemas import ReceiptOut, RunResult
from gateway.queries.spec import QuerySpec
from gateway.queries.value_sets import refused_values
from gateway.requests.models import QueryRequest
from gateway.requests.repository import RequestRepository
from gateway.requests.service import decide_for, effective_status
from gateway.store.base import utcnow
from policies import Decision, Denial


class _DailyQuotaUsed(Exception):
    """Raised inside the counting transaction so that it rolls back."""


_NOT_RUNNABLE = {
    "pending": ("query_pending", "该查询尚未获批准", "the query has not been approved"),
    "rejected": ("query_rejected", "该查询申请已被拒绝", "the query request was rejected"),
    "revoked": ("query_revoked", "该查询已被撤销", "the query was revoked"),
    "expired": ("query_expired", "该查询已过期", "the query approval has expired"),
}


def _load(session: Session, principal: AuthPrincipal, query_id: str) -> Loaded | None:
    """The query with its dataset and source; None when unknown or not the caller's to run."""
    query = RequestRepository(session).get(query_id)
    dataset = session.get(Dataset, query.dataset_id) if query is not None else None
    source = session.get(Source, dataset.source_id) if dataset else None
    if query is None or dataset is None or source is None:
        return None
    if not allowed("query.run", principal, Resource(owner=dataset.owner, app_id=query.app_id)):
        return None
    spec = QuerySpec.model_validate(query.spec, context={"stored": True})
    return Loaded(query, dataset, source, spec)


def _row_cap(ctx: GatewayContext, decision: Decision, query: QueryRequest, spec: QuerySpec) -> int:
    caps = [ctx.settings.max_rows, decision.max_rows, query.row_cap, spec.limit]
    return min(c for c in caps if c is not None)


def run_query(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    query_id: str,
    params: dict[str, Any],
    run: RunContext,
) -> RunResult:
    with ctx.store.transaction() as session:
        loaded = _load(session, principal, query_id)
        verdict: Decision | Denial | None = None
        if loaded is not None and effective_status(loaded.query) == "approved":
            verdict = decide_for(
                session, ctx, principal.facts(), loaded.dataset, loaded.query.purpose, loaded.spec
            )
    if loaded is None:
        raise deny(ctx, principal, run, None, "unknown_query", "")
    status = effective_status(loaded.query)
    if status != "approved":
        code, zh, en = _NOT_RUNNABLE.get(
            status, ("query_not_runnable", "该查询不可运行", "not runnable")
        )
        raise deny(ctx, principal, run, loaded, code, f"{zh} / {en}")
    bound = bind_params(loaded.spec, params)
    assert verdict is not None  # decided above for every approved query
    if isinstance(verdict, Decision):
        # Parameters are bound per run: each run's values must lie in the declared sets.
        verdict = refused_values(loaded.spec, verdict, bound) or verdict
    if isinstance(verdict, Denial):
        raise deny(ctx, principal, run, loaded, verdict.code, verdict.reason)
    try:
        with ctx.store.writing() as session:
            counted = RequestRepository(session).take_run(loaded.query.id)
            if counted and verdict.max_runs_per_day is not None:
                day = utcnow().date().isoformat()
                if not RequestRepository(session).take_daily_run(
                    principal.name,
                    loaded.dataset.id,
                    verdict.purpose,
                    day,
                    verdict.max_runs_per_day,
                ):
                    raise _DailyQuotaUsed  # rolls the run count back too
    except _DailyQuotaUsed:
        raise deny(
            ctx,
            principal,
            run,
            loaded,
            "daily_quota_used",
            "该用途今日运行次数已用完 / this purpose's runs for today are used",
        ) from None
    if not counted:
        raise deny(
            ctx,
            principal,
            run,
            loaded,
            "run_quota_used",
            "该查询的运行次数已用完 / the query has used all its runs",
        )
    if verdict.dp is not None:
        return run_dp(ctx, principal, run, loaded, verdict, bound)
    return _execute(ctx, principal, run, loaded, verdict, bound)


def _release(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    loaded: Loaded,
    decision: Decision,
    view: DatasetView,
    result: SourceResult,
    cap: int,
    bound: dict[str, Any],
) -> Release:
    if loaded.spec.kind == "rows":
        context = OperatorContext(
            master_key=ctx.keyring.current,
            key_version=ctx.keyring.current_version,
            owner=loaded.dataset.owner,
            recipient=principal.name,
            dataset=loaded.dataset.id,
        )
        quasi = {n for n, c in view.columns.items() if c.classification == "quasi_identifier"}
        classes = class_columns(view, decision, loaded.spec, bound)
        resident = view.resident_id is not None
        constrained = {f.column for f in loaded.spec.filters} | {
            s.column for s in decision.row_scope
        }
        return release_rows(
            result,
            decision,
            context,
            cap,
            quasi,
            classes,
            resident_column=resident,
            constrained=constrained,
        )
    return release_aggregates(result, decision, cap, loaded.spec)


def _execute(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    run: RunContext,
    loaded: Loaded,
    decision: Decision,
    bound: dict[str, Any],
) -> RunResult:
    view = DatasetView.of(loaded.dataset)
    cap = _row_cap(ctx, decision, loaded.query, loaded.spec)
    statement = plan(view, loaded.spec, decision, bound, cap + 1)
    common = audit_fields(loaded, decision, run)
    try:
        result = execute(
            source_engine(ctx, loaded.source),
            statement,
            ctx.settings.statement_timeout_seconds,
            cap + 1,
        )
    except GatewayError as exc:
        outcome = "timeout" if isinstance(exc, SourceTimeout) else "source_error"
        record(ctx, "query.run", principal, outcome=outcome, **common)
        raise
    except Exception:
        # Whatever the driver raised, the source may have been read: logged, then answered.
        record(ctx, "query.run", principal, outcome="error", **common)
        raise GatewayError("the source could not be read") from None
    try:
        release = _release(ctx, principal, loaded, decision, view, result, cap, bound)
    except Exception:
        # The source was read: the failure is logged before anything else happens.
        record(ctx, "query.run", principal, outcome="error", **common)
        raise GatewayError("the release could not be prepared") from None
    receipt: Receipt = record(
        ctx,
        "query.run",
        principal,
        # Indexed by the resident's ID number, so a lookup by ID finds every release.
        subjects=ctx.subjects.refs(release.residents) if loaded.spec.kind == "rows" else None,
        outcome="ok",
        columns=[{"name": n, "treatment": t} for n, t in release.treatments.items()],
        row_count=len(release.rows),
        suppressed_cells=release.suppressed_cells,
        result_digest=release.digest(),
        **common,
    )
    return RunResult(
        query_id=loaded.query.id,
        kind=loaded.spec.kind,
        purpose=loaded.query.purpose,
        policy_version=decision.policy_version,
        columns=release.columns,
        rows=release.rows,
        row_count=len(release.rows),
        treatments=release.treatments,
        suppressed_cells=release.suppressed_cells,
        truncated=release.truncated,
        retention=decision.retention,
        receipt=ReceiptOut.model_validate(receipt.bundle()),
    )

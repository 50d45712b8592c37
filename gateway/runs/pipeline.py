"""Running an approved query: one pipeline, read top to bottom in ``run_query``.

authenticate → load → decide → take quota → plan → execute → release → append →
respond, in that order, each step a call to the domain that owns it. The route
hands over the API key as sent; authentication, the load and the decision share
one read session (no transaction on a server store) and one read of the policy epoch.

Each step that must survive a crash commits on its own: the run is counted
before the source is touched, and the access-log entry is committed before the
result is returned. A refusal is logged, then raised; a failure after the source
was read is logged with outcome ``error``.
"""

from __future__ import annotations

from typing import Any

from anonymizers import OperatorContext
from gateway.access.permissions import Resource, allowed
from gateway.auditlog.service import record
from gateway.auditlog.writer import Receipt
from gateway.auth.service import authenticate, check_key_form
from gateway.catalog.engines import execute
from gateway.catalog.models import Dataset, Source
from gateway.catalog.service import source_engine
from gateway.context import GatewayContext
from gateway.decisions.facts import decide_for
from gateway.errors import GatewayError, SourceTimeout
from gateway.principal import AuthPrincipal
from gateway.queries.binding import DatasetView, bind_params
from gateway.queries.classes import class_columns
from gateway.queries.plan_cache import PLANS
from gateway.queries.planner import run_values
from gateway.queries.release import Release, release_aggregates, release_rows
from gateway.queries.schemas import ReceiptOut, RunResult
from gateway.queries.source_result import SourceResult
from gateway.queries.spec import QuerySpec
from gateway.queries.value_sets import refused_values
from gateway.requests.models import QueryRequest
from gateway.requests.status import effective_status
from gateway.runs.context import Loaded, RunContext, audit_fields, deny, not_runnable
from gateway.runs.dp import run_dp
from gateway.runs.quota import take_quota
from gateway.runs.repository import RunRepository
from policies import Decision, Denial


def run_query(
    ctx: GatewayContext,
    caller: str | AuthPrincipal,
    query_request_id: str,
    params: dict[str, Any],
    run: RunContext,
) -> RunResult:
    # Authenticate, load and decide: one read session, one SELECT for the policy epoch
    # (the principal cache and the decision are both valid for it) with the request, its
    # dataset, source and policy; nothing is shown before the key is authenticated.
    if not isinstance(caller, AuthPrincipal):
        check_key_form(caller)  # nothing is read for what cannot be a key
    with ctx.store.reading() as session:
        epoch, found = RunRepository(session).runnable(query_request_id)
        # An API key as sent (the API), or a principal a console session already holds.
        principal = (
            caller
            if isinstance(caller, AuthPrincipal)
            else authenticate(session, caller, ctx.principals, epoch)
        )
        loaded = _permitted(principal, found)
        verdict: Decision | Denial | None = None
        if loaded is not None and effective_status(loaded.query) == "approved":
            verdict = decide_for(
                session,
                ctx,
                principal.facts(),
                loaded.dataset,
                loaded.query.purpose,
                loaded.spec,
                count_today=False,  # the quota's atomic upsert checks the day's count
                epoch=epoch,
            )
    if loaded is None:
        raise deny(ctx, principal, run, None, "unknown_query", "")
    status = effective_status(loaded.query)
    if status != "approved":
        code, text = not_runnable(status, loaded.query.reason)
        raise deny(ctx, principal, run, loaded, code, text)
    bound = bind_params(loaded.spec, params)
    assert verdict is not None  # decided above for every approved query
    if isinstance(verdict, Decision):
        # Parameters are bound per run: each run's values must lie in the declared sets.
        verdict = refused_values(loaded.spec, verdict, bound) or verdict
    if isinstance(verdict, Denial):
        raise deny(ctx, principal, run, loaded, verdict.code, verdict.reason)

    if verdict.dp is not None:
        # A DP run takes its quota itself, after looking for a stored answer: a repeat
        # answered from the stored release uses up no run.
        return run_dp(ctx, principal, run, loaded, verdict, bound)

    # Take quota, before the source is touched.
    counted_at = take_quota(ctx, principal, run, loaded, verdict)

    # Plan: the statement planned once per (query, policy version); the run binds values.
    cap = _row_cap(ctx, verdict, loaded.query, loaded.spec)
    planned = PLANS.get(loaded.query.id, loaded.dataset, loaded.spec, verdict, cap + 1)
    view = planned.view
    common = {**audit_fields(loaded, verdict, run), "counted_at": counted_at}

    # Execute.
    try:
        result = execute(
            source_engine(ctx, loaded.source),
            planned.statement,
            ctx.settings.statement_timeout_seconds,
            cap + 1,
            run_values(view, loaded.spec, bound),
        )
    except GatewayError as exc:
        outcome = "timeout" if isinstance(exc, SourceTimeout) else "source_error"
        record(ctx, "query.run", principal, outcome=outcome, **common)
        raise
    except Exception:
        # Whatever the driver raised, the source may have been read: logged, then answered.
        record(ctx, "query.run", principal, outcome="error", **common)
        raise GatewayError("the source could not be read") from None

    # Release (with its digest: anything that fails after the source was read is logged).
    try:
        release = _release(ctx, principal, loaded, verdict, view, result, cap, bound)
        digest = release.digest()
    except Exception:
        # The source was read: the failure is logged before anything else happens.
        record(ctx, "query.run", principal, outcome="error", **common)
        raise GatewayError("the release could not be prepared") from None

    # Append: committed before the response exists.
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
        withheld_values=release.withheld_values,
        truncated=release.truncated,
        result_digest=digest,
        **common,
    )

    # Respond.
    return RunResult(
        query_id=loaded.query.id,
        kind=loaded.spec.kind,
        purpose=loaded.query.purpose,
        policy_version=verdict.policy_version,
        columns=release.columns,
        rows=release.rows,
        row_count=len(release.rows),
        treatments=release.treatments,
        suppressed_cells=release.suppressed_cells,
        withheld_values=release.withheld_values,
        truncated=release.truncated,
        retention=verdict.retention,
        receipt=ReceiptOut.model_validate(receipt.bundle()),
    )


def _permitted(
    principal: AuthPrincipal, found: tuple[QueryRequest, Dataset, Source] | None
) -> Loaded | None:
    """The query with its dataset and source; None when unknown or not the caller's to run."""
    if found is None:
        return None
    query, dataset, source = found
    if not allowed("query.run", principal, Resource(owner=dataset.owner, app_id=query.app_id)):
        return None
    return Loaded(query, dataset, source, _spec(query.spec))


_SPECS: dict[int, tuple[dict[str, Any], QuerySpec]] = {}
_SPECS_LIMIT = 1_000


def _spec(document: dict[str, Any]) -> QuerySpec:
    """The stored spec, validated once per decoded document (RunRepository shares one
    document per distinct text; QuerySpec is frozen, so sharing the parse is safe)."""
    hit = _SPECS.get(id(document))
    if hit is not None and hit[0] is document:  # the entry holds the document: no reused id
        return hit[1]
    spec = QuerySpec.model_validate(document, context={"stored": True})
    if len(_SPECS) >= _SPECS_LIMIT:
        _SPECS.clear()
    _SPECS[id(document)] = (document, spec)
    return spec


def _row_cap(ctx: GatewayContext, decision: Decision, query: QueryRequest, spec: QuerySpec) -> int:
    caps = [ctx.settings.max_rows, decision.max_rows, query.row_cap, spec.limit]
    return min(c for c in caps if c is not None)


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
    declared = {n: c.type for n, c in view.columns.items()}
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
            declared=declared,
        )
    return release_aggregates(result, decision, cap, loaded.spec, declared)

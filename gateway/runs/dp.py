"""Running an approved DP aggregate: stored answer, or quota, budget, run, noise, log.

Order matters. An identical run in the same window is answered from its stored
release (same noisy answer, nothing spent and no run of the query's quota used, so
repeating a query cannot average the noise away). Identical runs arriving together
are single-flight: the first claims the release key in the store (one insert wins,
across processes), the others wait for the answer it stores and return it, charged
nothing; if it fails they answer 409, if it outlasts their wait 503. Only the run
holding the claim takes a run of the quota; then ε is reserved atomically in the
ledger before the source is touched; a refused reservation spends nothing. Once the
source ran the spend stands, whatever happens next (the data was touched).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import timedelta
from typing import Any

from audit.digest import result_digest
from gateway.auditlog.service import record
from gateway.budget.caps import EXHAUSTED, caps_of
from gateway.budget.claims_repository import ClaimRepository
from gateway.budget.models import StoredRelease
from gateway.budget.repository import BudgetRepository
from gateway.budget.service import budget_view
from gateway.budget.windows import charge_micro, from_micro, window_start
from gateway.catalog.engines import execute
from gateway.catalog.schema_cache import unit_is_unique_cached
from gateway.catalog.service import source_engine
from gateway.context import GatewayContext
from gateway.errors import Conflict, Forbidden, GatewayError, SourceTimeout, Unavailable
from gateway.metrics import EPSILON_SPENT
from gateway.principal import AuthPrincipal
from gateway.queries.binding import DatasetView
from gateway.queries.dp import DPPlan, measures_for, plan_dp, release
from gateway.queries.schemas import DPInfo, ReceiptOut, RunResult
from gateway.runs.context import Loaded, RunContext, audit_fields, deny
from gateway.runs.quota import take_quota
from gateway.store.base import utcnow
from gateway.webhooks.budget_alerts import alert_on_crossing
from policies import Decision

MECHANISM = "laplace (discrete for counts and integer sums), pure epsilon-DP"


def _param_key(value: Any) -> Any:
    if isinstance(value, list):  # an "in" list: its order and repeats select the same rows
        return sorted({str(v) for v in value})
    return str(value)


def _release_key(loaded: Loaded, decision: Decision, bound: dict[str, Any], window: str) -> str:
    material = [
        loaded.query.id,
        decision.policy_version,
        window,
        decision.epsilon,
        sorted((k, _param_key(v)) for k, v in bound.items()),
    ]
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()


def run_dp(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    run: RunContext,
    loaded: Loaded,
    decision: Decision,
    bound: dict[str, Any],
) -> RunResult:
    assert decision.dp is not None and decision.epsilon is not None
    dp = decision.dp
    window = window_start(dp.window, utcnow())
    key = _release_key(loaded, decision, bound, window)
    cost = charge_micro(decision.epsilon)
    common = {**audit_fields(loaded, decision, run), "budget_window": window}
    ids = (principal.id, loaded.dataset.id, window)

    stored_result = _stored(ctx, key)
    if stored_result is not None:
        return _answer(ctx, principal, loaded, decision, common, stored_result, 0, ids, cached=True)

    try:
        view = DatasetView.of(loaded.dataset)
        measures_for(view, loaded.spec, decision)  # an ε the noise cannot take: refused here
        unique = unit_is_unique_cached(
            source_engine(ctx, loaded.source),
            loaded.source.id,
            view.table,
            view.privacy_unit,
            f"{loaded.dataset.id}@{loaded.dataset.updated_at.isoformat()}",
        )
        plan = plan_dp(view, loaded.spec, decision, bound, unique)
    except Forbidden as exc:
        raise deny(ctx, principal, run, loaded, exc.reason or "refused", exc.detail) from None

    holder = uuid.uuid4().hex
    with ctx.store.writing() as session:
        claimed = ClaimRepository(session).take(key, holder, utcnow() - _lease(ctx))
    if not claimed:
        first = _await_first(ctx, principal, common, key)
        return _answer(ctx, principal, loaded, decision, common, first, 0, ids, cached=True)
    try:
        # An identical run may have stored its answer between the first look and the claim.
        stored_result = _stored(ctx, key)
        if stored_result is not None:
            return _answer(
                ctx, principal, loaded, decision, common, stored_result, 0, ids, cached=True
            )
        # The quota is taken only by the run that reads the source; a refusal drops
        # the claim (below), so identical runs waiting on it answer 409.
        counted = {**common, "counted_at": take_quota(ctx, principal, run, loaded, decision)}
        answer = _run_once(ctx, principal, run, loaded, decision, plan, key, ids, counted)
    finally:
        with ctx.store.writing() as session:
            ClaimRepository(session).drop(key, holder)
    return _answer(ctx, principal, loaded, decision, counted, answer, cost, ids, cached=False)


def _stored(ctx: GatewayContext, key: str) -> dict[str, Any] | None:
    with ctx.store.transaction() as session:
        stored = BudgetRepository(session).release(key)
        return dict(stored.result) if stored is not None else None


def _wait_seconds(ctx: GatewayContext) -> float:
    """How long an identical run waits for the first: its statement, and a margin."""
    return 2 * ctx.settings.statement_timeout_seconds + 5.0


def _lease(ctx: GatewayContext) -> timedelta:
    """Past this a claim is taken over: its process died (a live run ends well before)."""
    return timedelta(seconds=2 * ctx.settings.statement_timeout_seconds + 60.0)


def _await_first(
    ctx: GatewayContext, principal: AuthPrincipal, common: dict[str, Any], key: str
) -> dict[str, Any]:
    """The answer of the identical run holding the claim, once it is stored."""
    deadline = time.monotonic() + _wait_seconds(ctx)
    pause = 0.02
    while True:
        # The claim is read before the release: the first run stores its answer, then
        # drops its claim, so a claim seen gone means its answer (if any) is visible.
        with ctx.store.transaction() as session:
            held = ClaimRepository(session).held(key)
        stored = _stored(ctx, key)
        if stored is not None:
            return stored
        if not held:
            _refused(ctx, principal, common, "identical_run_failed")
            raise Conflict(
                "同一查询的相同运行失败，未发布结果，本次未计费；请重新运行 / an identical run of "
                "this query failed and released nothing; nothing was charged, run it again",
                reason="identical_run_failed",
            )
        if time.monotonic() >= deadline:
            _refused(ctx, principal, common, "identical_run_pending")
            raise Unavailable(
                "同一查询的相同运行仍在进行，本次未计费；请稍后重试 / an identical run of this "
                "query is still running; nothing was charged, retry shortly",
                reason="identical_run_pending",
                retry_after=max(1, round(ctx.settings.statement_timeout_seconds)),
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _refused(
    ctx: GatewayContext, principal: AuthPrincipal, common: dict[str, Any], code: str
) -> None:
    record(
        ctx,
        "query.run",
        principal,
        outcome="refused",
        **{**common, "decision": {"allowed": False, "reason_code": code}},
    )


def _run_once(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    run: RunContext,
    loaded: Loaded,
    decision: Decision,
    plan: DPPlan,
    key: str,
    ids: tuple[str, str, str],
    common: dict[str, Any],
) -> dict[str, Any]:
    """Reserve, read the source, noise, store: the one run of its release key."""
    assert decision.dp is not None and decision.epsilon is not None
    window = ids[2]
    cost = charge_micro(decision.epsilon)
    caps = caps_of(loaded.dataset.policy)  # every DP purpose of the dataset: one ledger
    with ctx.store.writing() as session:
        now = utcnow()
        refused, before = BudgetRepository(session).reserve(
            principal.id, loaded.dataset.id, loaded.query.purpose, caps, cost, now
        )
        if refused is None:  # the alert commits with the spend, or not at all
            alert_on_crossing(
                session,
                app_id=principal.id,
                dataset_id=loaded.dataset.id,
                owner=loaded.dataset.owner,
                before=before,
                cost=cost,
                fraction=ctx.settings.budget_alert_fraction,
            )
    if refused is None:
        EPSILON_SPENT.inc(from_micro(cost))
    if refused is not None:
        raise deny(
            ctx,
            principal,
            run,
            loaded,
            "budget_exhausted",
            EXHAUSTED[refused],
            budget_window=window,
            budget_cap=refused,
        )
    spent = f"{from_micro(cost):.6f}"  # what the ledger was charged
    try:
        result = execute(
            source_engine(ctx, loaded.source),
            plan.statement,
            ctx.settings.statement_timeout_seconds,
            100_000,
        )
    except GatewayError as exc:
        outcome = "timeout" if isinstance(exc, SourceTimeout) else "source_error"
        record(ctx, "query.run", principal, outcome=outcome, privacy_cost=spent, **common)
        raise
    except Exception:
        # Whatever the driver raised, the source may have been read: logged, then answered.
        record(ctx, "query.run", principal, outcome="error", privacy_cost=spent, **common)
        raise GatewayError("the source could not be read") from None
    try:
        noisy = release(plan, loaded.spec, decision, result)
    except Forbidden as exc:
        record(
            ctx,
            "query.run",
            principal,
            outcome="refused",
            privacy_cost=spent,
            **{**common, "decision": {"allowed": False, "reason_code": exc.reason}},
        )
        raise
    except Exception:
        # The source was read: the failure is logged (with the spend) before anything else.
        record(ctx, "query.run", principal, outcome="error", privacy_cost=spent, **common)
        raise GatewayError("the release could not be prepared") from None
    answer = {
        "columns": noisy.columns,
        "rows": noisy.rows,
        "intervals": noisy.intervals,
        "scales": noisy.scales,
    }
    with ctx.store.writing() as session:
        BudgetRepository(session).add_release(
            StoredRelease(
                key=key,
                query_id=loaded.query.id,
                app_id=principal.id,
                dataset_id=loaded.dataset.id,
                window_start=window,
                cost_micro=cost,
                result=answer,
            )
        )
    return answer


def _answer(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    loaded: Loaded,
    decision: Decision,
    common: dict[str, Any],
    answer: dict[str, Any],
    cost: int,
    ids: tuple[str, str, str],
    *,
    cached: bool,
) -> RunResult:
    assert decision.dp is not None
    try:
        digest = result_digest(answer["columns"], answer["rows"])
    except Exception:
        # A value without a canonical form: logged like any failure after the source read.
        spent = f"{from_micro(cost):.6f}"
        record(ctx, "query.run", principal, outcome="error", privacy_cost=spent, **common)
        raise GatewayError("the release could not be prepared") from None
    receipt = record(
        ctx,
        "query.run",
        principal,
        outcome="ok",
        cached=cached,
        privacy_cost=f"{from_micro(cost):.6f}",
        row_count=len(answer["rows"]),
        columns=[{"name": c, "treatment": "dp"} for c in answer["columns"]],
        result_digest=digest,
        **common,
    )
    with ctx.store.transaction() as session:
        standing = BudgetRepository(session).standing(
            principal.id, loaded.dataset.id, caps_of(loaded.dataset.policy), utcnow()
        )
    budget = budget_view(principal.name, loaded.dataset.name, loaded.dataset.id, standing)
    return RunResult(
        query_id=loaded.query.id,
        kind="aggregate",
        purpose=loaded.query.purpose,
        policy_version=decision.policy_version,
        columns=answer["columns"],
        rows=answer["rows"],
        row_count=len(answer["rows"]),
        treatments={c: "dp" for c in answer["columns"]},
        truncated=False,
        retention=decision.retention,
        receipt=ReceiptOut.model_validate(receipt.bundle()),
        dp=DPInfo(
            epsilon=from_micro(cost),
            delta=decision.dp.delta,
            mechanism=MECHANISM,
            confidence=decision.dp.confidence,
            scales=answer["scales"],
            intervals=answer["intervals"],
            cached=cached,
            window_start=ids[2],
            budget_total=budget.total,
            budget_spent=budget.spent,
            budget_remaining=budget.remaining,
            budget_lifetime_remaining=budget.lifetime_remaining,
            budget_dataset_remaining=budget.dataset_remaining,
            budget_available=budget.available,
        ),
    )

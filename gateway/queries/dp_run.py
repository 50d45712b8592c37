"""Running an approved DP aggregate: stored answer, or reserve budget, run, noise, log.

Order matters. An identical run in the same window is answered from its stored
release (same noisy answer, nothing spent, so repeating a query cannot average
the noise away). Otherwise ε is reserved atomically in the ledger before the
source is touched; a refused reservation spends nothing. Once the source ran the
spend stands, whatever happens next (the data was touched).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from audit.digest import result_digest
from gateway.auditlog.service import record
from gateway.auth.principal import AuthPrincipal
from gateway.budget.models import DPRelease
from gateway.budget.repository import BudgetRepository
from gateway.budget.windows import from_micro, to_micro, window_start
from gateway.catalog.engines import execute, unit_is_unique
from gateway.catalog.service import source_engine
from gateway.context import GatewayContext
from gateway.errors import Forbidden, GatewayError, SourceTimeout
from gateway.queries.binding import DatasetView
from gateway.queries.dp import measures_for, plan_dp, release
from gateway.queries.runs import Loaded, RunContext, audit_fields, deny
from gateway.queries.schemas import DPInfo, ReceiptOut, RunResult
from gateway.store.base import utcnow
from policies import Decision

MECHANISM = "laplace (discrete for counts and integer sums), pure epsilon-DP"


def _release_key(loaded: Loaded, decision: Decision, bound: dict[str, Any], window: str) -> str:
    material = [
        loaded.query.id,
        decision.policy_version,
        window,
        decision.epsilon,
        sorted((k, str(v)) for k, v in bound.items()),
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
    cost, total = to_micro(decision.epsilon), to_micro(dp.epsilon_per_window)
    common = {**audit_fields(loaded, decision, run), "budget_window": window}
    ids = (principal.id, loaded.dataset.id, window)

    with ctx.store.transaction() as session:
        stored = BudgetRepository(session).release(key)
        stored_result = dict(stored.result) if stored is not None else None
    if stored_result is not None:
        return _answer(ctx, principal, loaded, decision, common, stored_result, 0, ids, cached=True)

    try:
        view = DatasetView.of(loaded.dataset)
        measures_for(view, loaded.spec, decision)  # an ε the noise cannot take: refused here
        unique = unit_is_unique(source_engine(ctx, loaded.source), view.table, view.privacy_unit)
        plan = plan_dp(view, loaded.spec, decision, bound, unique)
    except Forbidden as exc:
        raise deny(ctx, principal, run, loaded, exc.reason or "refused", exc.detail) from None
    with ctx.store.writing() as session:
        repo = BudgetRepository(session)
        repo.ensure_ledger(*ids, total)
        reserved = repo.reserve(*ids, total, cost)
    if not reserved:
        raise deny(
            ctx,
            principal,
            run,
            loaded,
            "budget_exhausted",
            "隐私预算不足 / the privacy budget of this window is exhausted",
            budget_window=window,
        )
    spent = f"{decision.epsilon:.6f}"
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
            DPRelease(
                key=key,
                query_id=loaded.query.id,
                app_id=principal.id,
                dataset_id=loaded.dataset.id,
                window_start=window,
                cost_micro=cost,
                result=answer,
            )
        )
    return _answer(ctx, principal, loaded, decision, common, answer, cost, ids, cached=False)


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
    digest = result_digest(answer["columns"], answer["rows"])
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
        ledger = BudgetRepository(session).ledger(*ids)
        total = ledger.total_micro if ledger else to_micro(decision.dp.epsilon_per_window)
        spent = ledger.spent_micro if ledger else 0
    return RunResult(
        query_id=loaded.query.id,
        kind="aggregate",
        purpose=loaded.query.purpose,
        policy_version=decision.policy_version,
        columns=answer["columns"],
        rows=answer["rows"],
        row_count=len(answer["rows"]),
        treatments={c: "dp" for c in answer["columns"]},
        suppressed_groups=0,
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
            budget_total=from_micro(total),
            budget_spent=from_micro(spent),
            budget_remaining=from_micro(max(total - spent, 0)),
        ),
    )

"""Taking one run of an approved query's quota, atomically across gateway processes."""

from __future__ import annotations

from gateway.context import GatewayContext
from gateway.principal import AuthPrincipal
from gateway.runs.context import Loaded, RunContext, deny, not_runnable
from gateway.runs.repository import RunCounts
from gateway.store.base import utcnow
from policies import Decision


class _DailyQuotaUsed(Exception):
    """Raised inside the counting transaction so that it rolls back."""


def take_quota(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    run: RunContext,
    loaded: Loaded,
    decision: Decision,
) -> str:
    """Count one run of the query and one of the purpose today, and return the moment it
    was counted (ISO 8601, UTC, microseconds); or refuse.

    The day's count moves whether or not the purpose has a daily cap, so a cap a
    department adds later in the day counts the runs already made. Both counts move in
    one short write transaction: a refused daily count rolls the query's count back, so
    a refusal uses up nothing. Raises the logged refusal.

    The moment is read inside the counting transaction. The count and a revocation update
    the same row, so a counted run was authorised before any revocation that commits after
    it; the run's entry, appended once the source has answered, can come after the
    revocation's entry in log order, and carries this moment (``counted_at``) to show it.
    """
    stored = ("approved", "")
    try:
        with ctx.store.writing_connection() as conn:
            repo = RunCounts(conn)
            moment = utcnow()
            taken = repo.take(
                loaded.query.id,
                principal.name,
                loaded.dataset.id,
                decision.purpose,
                moment.date().isoformat(),
                decision.max_runs_per_day,
            )
            counted = taken == "counted"
            if taken == "run_refused":
                # Revoked (or retired) since it was loaded, or its runs are used up.
                stored = repo.status(loaded.query.id)
            elif taken == "day_refused":
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
    if not counted and stored[0] != "approved":
        code, text = not_runnable(*stored)
        raise deny(ctx, principal, run, loaded, code, text)
    if not counted:
        raise deny(
            ctx,
            principal,
            run,
            loaded,
            "run_quota_used",
            "该查询的运行次数已用完 / the query has used all its runs",
        )
    return moment.isoformat(timespec="microseconds")

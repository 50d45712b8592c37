"""``budget.nearly_spent``: sent once, when a spend crosses the alert share of a cap.

Checked right after a reservation, in its transaction: the standing read there already
includes the new spend, so the spend before it is that minus the cost. A cap is reported
when the spend moved from below ``CDG_BUDGET_ALERT_FRACTION`` of it to at or above; later
spends above the line send nothing more (a rolling window that drains and fills again
crosses again, and is reported again).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.budget.caps import BudgetCaps
from gateway.budget.repository import BudgetRepository
from gateway.webhooks.notify import budget_nearly_spent


def crossed(before: int, after: int, total: int, fraction: float) -> bool:
    line = total * fraction
    return total > 0 and before < line <= after


def alert_on_crossing(
    session: Session,
    *,
    app_id: str,
    dataset_id: str,
    owner: str,
    caps: BudgetCaps,
    cost: int,
    now: datetime,
    fraction: float,
) -> list[str]:
    """Queue an alert per cap the spend of ``cost`` just crossed; returns those caps."""
    s = BudgetRepository(session).standing(app_id, dataset_id, caps, now)
    spends = {
        "window": (s.window_spent, s.window_total),
        "lifetime": (s.lifetime_spent, s.lifetime_total),
        "dataset": (s.dataset_spent, s.dataset_total),
    }
    hit = [
        cap
        for cap, (after, total) in spends.items()
        if crossed(after - cost, after, total, fraction)
    ]
    for cap in hit:
        budget_nearly_spent(
            session, app_id=app_id, dataset=dataset_id, owner=owner, cap=cap, threshold=fraction
        )
    return hit

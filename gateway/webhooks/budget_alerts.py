"""``budget.nearly_spent``: sent once, when a spend crosses the alert share of a cap.

Checked right after a reservation, in its transaction, from the standing the reservation
read under its lock (before the spend; the spend is the only change since). A cap is reported
when the spend moved from below ``CDG_BUDGET_ALERT_FRACTION`` of it to at or above; later
spends above the line send nothing more (a rolling window that drains and fills again
crosses again, and is reported again).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.budget.repository import Standing
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
    before: Standing,
    cost: int,
    fraction: float,
) -> list[str]:
    """Queue an alert per cap the spend of ``cost`` just crossed; returns those caps.

    ``before`` is the standing the reservation read under its lock, so no second read of
    the sums is needed: the spend is the only change since.
    """
    spends = {
        "window": (before.window_spent, before.window_total),
        "lifetime": (before.lifetime_spent, before.lifetime_total),
        "dataset": (before.dataset_spent, before.dataset_total),
    }
    hit = [
        cap
        for cap, (spent, total) in spends.items()
        if crossed(spent, spent + cost, total, fraction)
    ]
    for cap in hit:
        budget_nearly_spent(
            session, app_id=app_id, dataset=dataset_id, owner=owner, cap=cap, threshold=fraction
        )
    return hit

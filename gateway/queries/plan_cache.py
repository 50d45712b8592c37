"""Planned statements kept per (query, policy version): a run binds its values, no more.

Building a SELECT and its cache key costs more than the source answering the run's
query. The statement depends only on the dataset's schema, the spec, the decision's
row scope and the row cap; a run's parameters are bind parameters (``run_values``).
An entry holds the dataset and spec objects it was planned from and is used only for
those very objects (the run path shares one object per distinct stored row and spec),
so a re-registered schema or an edited spec plans afresh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select

from gateway.queries.binding import DatasetView, RegisteredDataset
from gateway.queries.planner import plan
from gateway.queries.spec import QuerySpec
from policies import Decision

_LIMIT = 2_000  # distinct planned statements one process keeps; emptied when full


@dataclass(frozen=True)
class Planned:
    dataset: RegisteredDataset
    spec: QuerySpec
    scope: str  # the decision's row scope, as planned (it can depend on the caller)
    view: DatasetView
    statement: Select[Any]


class PlanCache:
    def __init__(self) -> None:
        self._plans: dict[tuple[str, str, int], Planned] = {}
        self._lock = threading.Lock()

    def get(
        self,
        query_id: str,
        dataset: RegisteredDataset,
        spec: QuerySpec,
        decision: Decision,
        limit: int,
    ) -> Planned:
        key = (query_id, decision.policy_version, limit)
        scope = repr(decision.row_scope)
        hit = self._plans.get(key)
        if hit is not None and hit.dataset is dataset and hit.spec is spec and hit.scope == scope:
            return hit
        view = DatasetView.of(dataset)
        planned = Planned(dataset, spec, scope, view, plan(view, spec, decision, None, limit))
        with self._lock:
            if len(self._plans) >= _LIMIT:
                self._plans = {}
            self._plans[key] = planned
        return planned


PLANS = PlanCache()

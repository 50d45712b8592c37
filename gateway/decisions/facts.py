"""The facts of one decision, gathered in one place, then handed to ``policies.decide``.

Filing a request, explaining a decision and every run ask here, so the three can
never disagree about what the policy allows at this moment.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from gateway.access.repository import AccessRepository
from gateway.access.service import EngineHolder
from gateway.catalog.models import Dataset
from gateway.catalog.service import dataset_policy
from gateway.queries.spec import QuerySpec
from gateway.store.base import utcnow
from policies import Circumstances, Decision, Denial, PrincipalFacts, decide


class RulesContext(Protocol):
    """What a decision needs of the serving process (``GatewayContext`` has it).

    The process context builds the rules engine holder, so access cannot import it back.
    """

    @property
    def access(self) -> EngineHolder: ...


def decide_for(
    session: Session,
    ctx: RulesContext,
    who: PrincipalFacts,
    dataset: Dataset,
    purpose: str,
    spec: QuerySpec,
    *,
    count_today: bool = True,
    epoch: int | None = None,
) -> Decision | Denial:
    """Gather the facts of this moment (casbin grant, time, runs today), then decide.

    A run passes ``count_today=False``: it takes the day's count with one atomic upsert
    bounded by the same cap (gateway/runs/quota.py), which refuses with the same reason
    code, so reading the count first would only cost a query. ``epoch``: the policy epoch
    this transaction already read (a run reads it once, to authenticate).
    """
    policy = dataset_policy(dataset)
    known = purpose in ctx.access.hierarchy
    # Unknown purposes never reach casbin: nothing can grant them.
    granted = (
        ctx.access.engine(session, epoch).granted_purpose(who.name, who.domain, dataset.id, purpose)
        if known
        else None
    )
    now = utcnow()
    runs_today = 0
    quota = next((r.max_runs_per_day for r in policy.purposes if r.purpose == granted), None)
    if count_today and granted is not None and quota is not None:
        # Counted per grant: filing under child purposes does not multiply the quota.
        runs_today = AccessRepository(session).runs_today(
            who.name, dataset.id, granted, now.date().isoformat()
        )
    facts = Circumstances(granted=granted, now=now, runs_today=runs_today, known_purpose=known)
    sensitive = [c["name"] for c in dataset.columns if c["classification"] == "sensitive"]
    shape = spec.shape(sensitive)
    return decide(who, policy, dataset.policy_version, purpose, shape, facts)

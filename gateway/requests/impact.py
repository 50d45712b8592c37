"""What a new usage policy would do to the approved queries of its dataset.

Each approved query is decided twice with ``policies.decide``: under the policy in force
and under the new document, with the grant read from each document (the casbin rules
are only rebuilt once the replacement commits) and no runs counted today (a daily quota
used up is not a change of policy). A refusal under the new document *breaks* the query;
a decision whose release terms differ *changes* it (a column's treatment, the row scope,
the minimum group size, k, the row limit, the daily quota, ε).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.auth.models import Principal
from gateway.catalog.models import Dataset
from gateway.catalog.policy_diff import term_changes
from gateway.catalog.schemas import QueryImpactOut
from gateway.context import GatewayContext
from gateway.queries.spec import QuerySpec
from gateway.requests.models import QueryRequest
from gateway.requests.status import effective_status
from gateway.store.base import utcnow
from policies import Circumstances, Decision, Denial, PrincipalFacts, UsagePolicy, decide
from policies.purposes import covers


@dataclass(frozen=True)
class Impact:
    query: QueryRequest
    out: QueryImpactOut
    denial: Denial | None  # set when the query breaks


def _grant(policy: UsagePolicy, who: PrincipalFacts, purpose: str) -> str:
    """The purpose node the document grants this app for ``purpose`` ("" when none)."""
    granted = [
        r.purpose
        for r in policy.purposes
        if covers(r.purpose, purpose)
        and any(
            g.role == who.role and ("*" in g.domains or who.domain in g.domains) for g in r.grantees
        )
    ]
    return max(granted, key=lambda p: p.count("."), default="")


def _terms(d: Decision) -> dict[str, Any]:
    """The release terms of a decision, as plain JSON values."""
    return {
        "purpose": d.purpose,
        "legal_basis": d.legal_basis,
        "access": d.access,
        "columns": {name: rule.model_dump(mode="json") for name, rule in d.columns.items()},
        "row_scope": [{"column": f.column, "op": f.op, "value": f.value} for f in d.row_scope],
        "min_group_size": d.min_group_size,
        "k_anonymity": d.k_anonymity,
        "max_rows": d.max_rows,
        "max_runs_per_day": d.max_runs_per_day,
        "small_groups": d.small_groups,
        "dp": None if d.dp is None else d.dp.model_dump(mode="json"),
        "epsilon": d.epsilon,
    }


def _decide(
    ctx: GatewayContext,
    who: PrincipalFacts,
    policy: UsagePolicy,
    version: str,
    row: QueryRequest,
    dataset: Dataset,
) -> Decision | Denial:
    spec = QuerySpec.model_validate(row.spec, context={"stored": True})
    sensitive = [c["name"] for c in dataset.columns if c["classification"] == "sensitive"]
    facts = Circumstances(
        granted=_grant(policy, who, row.purpose),
        now=utcnow(),
        runs_today=0,
        known_purpose=row.purpose in ctx.access.hierarchy,
    )
    return decide(who, policy, version, row.purpose, spec.shape(sensitive), facts)


def impacts(
    ctx: GatewayContext,
    dataset: Dataset,
    old: UsagePolicy,
    new: UsagePolicy,
    new_version: str,
    queries: Sequence[tuple[QueryRequest, Principal]],
) -> tuple[list[Impact], int]:
    """The approved queries ``new`` breaks or changes, and how many it leaves alone."""
    found: list[Impact] = []
    unchanged = 0
    for row, app in queries:
        if effective_status(row) != "approved":
            continue  # pending requests are decided at approval; expired ones run no more
        who = PrincipalFacts(name=app.name, kind=app.kind, role=app.role, domain=app.domain)
        before = _decide(ctx, who, old, dataset.policy_version, row, dataset)
        after = _decide(ctx, who, new, new_version, row, dataset)
        base = {"id": row.id, "app": app.name, "purpose": row.purpose}
        if isinstance(after, Denial):
            out = QueryImpactOut(
                **base, effect="breaks", reason_code=after.code, reason=after.reason
            )
            found.append(Impact(row, out, after))
            continue
        old_terms = _terms(before) if isinstance(before, Decision) else {}
        changes = term_changes(old_terms, _terms(after))
        if changes:
            found.append(
                Impact(row, QueryImpactOut(**base, effect="changes", changes=changes), None)
            )
        else:
            unchanged += 1
    return found, unchanged

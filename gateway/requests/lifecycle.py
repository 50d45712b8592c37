"""What the catalogue's changes do to query requests: retirement and policy replacement.

Retiring a dataset (or a source, with all its datasets) is soft: the rows stay, so the
access log, budgets and residents' histories keep naming them; the dataset leaves the
catalogue, its approved queries are revoked and its pending requests rejected, each with
a reason the app reads. A policy replacement is first previewed (the diff and the
approved queries it would break or change, nothing written); the replacement itself
revokes the queries it breaks. Everything happens in the caller's transaction, with the
casbin rules rebuilt and the access-log entries appended in it.

These live with the requests, not the catalog, because they close requests: the catalog
imports nothing from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from gateway.access.permissions import Resource, require, require_caller
from gateway.auditlog.service import record_in
from gateway.catalog import service as catalog
from gateway.catalog.models import Dataset
from gateway.catalog.policy_diff import policy_diff
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.rules import rebuild_policy_rules
from gateway.catalog.schemas import (
    ClosedQueryOut,
    DatasetOut,
    DatasetRetirementOut,
    PolicyPreviewOut,
    SourceRetirementOut,
)
from gateway.context import GatewayContext
from gateway.errors import NotFound
from gateway.principal import AuthPrincipal
from gateway.requests.impact import Impact, impacts
from gateway.requests.repository import RequestRepository
from gateway.requests.revocation import Cause, Closure, close_requests
from policies import UsagePolicy, policy_version


def _close_all(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    datasets: Sequence[Dataset],
    reason: str,
    cause: Cause,
) -> dict[str, list[ClosedQueryOut]]:
    """Revoke the approved queries and reject the pending requests on ``datasets``."""
    closed: dict[str, list[ClosedQueryOut]] = {d.id: [] for d in datasets}
    closures = [
        Closure(row, app.name, reason, "revoked" if row.status == "approved" else "rejected", cause)
        for row, app in RequestRepository(session).open_on([d.id for d in datasets])
    ]
    close_requests(session, ctx, principal, closures)
    for c in closures:
        closed[c.row.dataset_id].append(
            ClosedQueryOut(
                id=c.row.id, app=c.app, purpose=c.row.purpose, status=c.to_status, reason=reason
            )
        )
    return closed


def _retire_datasets(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    datasets: Sequence[Dataset],
    reason: str,
    cause: Cause,
    why: str,
) -> list[DatasetRetirementOut]:
    for dataset in datasets:
        catalog.mark_retired(session, dataset, principal, reason)
    session.flush()
    closed = _close_all(session, ctx, principal, datasets, why, cause)
    out = []
    for dataset in datasets:
        record_in(
            session,
            ctx,
            "dataset.retired",
            principal,
            dataset=dataset.id,
            dataset_name=dataset.name,
            cause=None if cause == "dataset_retired" else cause,
            closed_queries=len(closed[dataset.id]),
        )
        out.append(
            DatasetRetirementOut(
                id=dataset.id,
                name=dataset.name,
                owner=dataset.owner,
                retired_at=dataset.retired_at,
                retired_by=dataset.retired_by,
                retire_reason=dataset.retire_reason,
                closed=closed[dataset.id],
            )
        )
    return out


def retire_dataset(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    dataset_id: str,
    reason: str,
) -> DatasetRetirementOut:
    """Retire one dataset; retiring it again is ``409 already_retired``."""
    require_caller("dataset.retire", principal)
    dataset = CatalogRepository(session).dataset(dataset_id)
    if dataset is None:
        raise NotFound("no such dataset")
    require("dataset.retire", principal, Resource(owner=dataset.owner))
    catalog.refuse_retired(dataset)
    why = f"数据集已停用 / the dataset was retired: {reason}"
    out = _retire_datasets(session, ctx, principal, [dataset], reason, "dataset_retired", why)
    rebuild_policy_rules(session)
    return out[0]


def retire_source(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    source_id: str,
    reason: str,
) -> SourceRetirementOut:
    """Retire a source and every dataset on it not retired yet."""
    require_caller("source.retire", principal)
    repo = CatalogRepository(session)
    source = repo.source(source_id)
    if source is None:
        raise NotFound("no such source")
    require("source.retire", principal, Resource(owner=source.owner))
    catalog.mark_retired(session, source, principal, reason)
    live = [d for d in repo.datasets_of_source(source.id) if d.retired_at is None]
    why = f"数据源已停用 / the source was retired: {reason}"
    datasets = _retire_datasets(session, ctx, principal, live, reason, "source_retired", why)
    record_in(
        session,
        ctx,
        "source.retired",
        principal,
        source=source.name,
        datasets_retired=len(datasets),
    )
    rebuild_policy_rules(session)
    return SourceRetirementOut(source=catalog.source_out(source), datasets=datasets)


def _assess(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    action: str,
    dataset_id: str,
    policy: UsagePolicy,
) -> tuple[Dataset, PolicyPreviewOut, list[Impact]]:
    """The checks a replacement passes, its diff and the queries it breaks or changes."""
    require_caller(action, principal)
    dataset = CatalogRepository(session).dataset(dataset_id)
    if dataset is None:
        raise NotFound("no such dataset")
    require(action, principal, Resource(owner=dataset.owner))
    catalog.refuse_retired(dataset)
    catalog.vet_policy(ctx, dataset, policy)
    old = catalog.dataset_policy(dataset)
    queries = RequestRepository(session).open_on([dataset.id])
    found, unchanged = impacts(ctx, dataset, old, policy, policy_version(policy), queries)
    preview = PolicyPreviewOut(
        dataset=dataset.id,
        diff=policy_diff(old, policy),
        breaks=[i.out for i in found if i.out.effect == "breaks"],
        changes=[i.out for i in found if i.out.effect == "changes"],
        unchanged=unchanged,
    )
    return dataset, preview, found


def preview_policy(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    dataset_id: str,
    policy: UsagePolicy,
) -> PolicyPreviewOut:
    """What replacing the policy would do; nothing is written, nothing is logged."""
    return _assess(session, ctx, principal, "policy.preview", dataset_id, policy)[1]


def replace_policy(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    dataset_id: str,
    policy: UsagePolicy,
) -> DatasetOut:
    """Replace the policy and revoke the approved queries it breaks, saying how."""
    _, preview, found = _assess(session, ctx, principal, "policy.replace", dataset_id, policy)
    out = catalog.update_policy(session, ctx, principal, dataset_id, policy)
    closures = []
    for impact in found:
        if impact.denial is None:
            continue
        denial = impact.denial
        impact.out.reason = (
            f"使用策略已替换：{denial.message_zh} / "
            f"the usage policy was replaced: {denial.message_en}"
        )
        closures.append(
            Closure(impact.query, impact.out.app, impact.out.reason, "revoked", "policy_replaced")
        )
    close_requests(session, ctx, principal, closures)
    out.revoked_queries = preview.breaks
    return out

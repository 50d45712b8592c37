"""What every step of a run carries: the HTTP request's context and the loaded query,
and how a refused run is logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.auditlog.residents import justification_digest
from gateway.auditlog.service import record
from gateway.catalog.models import Dataset, Source
from gateway.context import GatewayContext
from gateway.errors import Forbidden, NotFound
from gateway.principal import AuthPrincipal
from gateway.queries.spec import QuerySpec
from gateway.requests.models import QueryRequest
from policies import Decision

_NOT_RUNNABLE = {
    "pending": ("query_pending", "该查询尚未获批准", "the query has not been approved"),
    "rejected": ("query_rejected", "该查询申请已被拒绝", "the query request was rejected"),
    "revoked": ("query_revoked", "该查询已被撤销", "the query was revoked"),
    "expired": ("query_expired", "该查询已过期", "the query approval has expired"),
}


def not_runnable(status: str, reason: str) -> tuple[str, str]:
    """The refusal's code and text for a query in ``status`` (not "approved")."""
    code, zh, en = _NOT_RUNNABLE.get(
        status, ("query_not_runnable", "该查询不可运行", "not runnable")
    )
    why = reason if status in ("revoked", "rejected") else ""
    # The department's reason reaches the app in the answer, never the access log.
    return code, f"{zh} / {en}" + (f": {why}" if why else "")


@dataclass(frozen=True)
class RunContext:
    request_id: str
    client: str | None


@dataclass(frozen=True)
class Loaded:
    query: QueryRequest
    dataset: Dataset
    source: Source
    spec: QuerySpec


def audit_fields(loaded: Loaded, decision: Decision, run: RunContext) -> dict[str, Any]:
    """Fields shared by every access-log entry of an allowed run."""
    return {
        "approved_query": loaded.query.id,
        "dataset": loaded.dataset.id,
        # Shown in residents' histories, so committed here rather than read from the catalog.
        "dataset_name": loaded.dataset.name,
        "justification_digest": justification_digest(loaded.query.justification),
        "purpose": loaded.query.purpose,
        "legal_basis": decision.legal_basis,
        "policy_version": decision.policy_version,
        "decision": {"allowed": True, "reason_code": "granted"},
        "kind": loaded.spec.kind,
        "request_id": run.request_id,
        "client": run.client,
    }


def deny(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    run: RunContext,
    loaded: Loaded | None,
    code: str,
    reason: str,
    **extra: Any,
) -> Forbidden | NotFound:
    """Log a refused run, and return the error to raise."""
    record(
        ctx,
        "query.run",
        principal,
        approved_query=loaded.query.id if loaded else None,
        dataset=loaded.dataset.id if loaded else None,
        purpose=loaded.query.purpose if loaded else None,
        policy_version=loaded.dataset.policy_version if loaded else None,
        decision={"allowed": False, "reason_code": code},
        outcome="refused",
        request_id=run.request_id,
        client=run.client,
        **extra,
    )
    if loaded is None:
        return NotFound("no such approved query")
    return Forbidden(reason, reason=code)

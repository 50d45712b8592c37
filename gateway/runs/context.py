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

"""Explaining a decision without running anything (apps for themselves, owners for apps)."""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from gateway.access.permissions import require
from gateway.auth.repository import AuthRepository
from gateway.auth.service import as_principal
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.service import dataset_resource
from gateway.decisions.facts import RulesContext, decide_for
from gateway.decisions.schemas import ExplainOut, ExplainRequest, MatchedRule
from gateway.errors import Forbidden, NotFound
from gateway.principal import AuthPrincipal
from gateway.queries.binding import DatasetView, check_spec
from policies import Decision


def _subject(session: Session, principal: AuthPrincipal, body: ExplainRequest) -> AuthPrincipal:
    """The app the decision is explained for: the caller itself, or the app named."""
    if body.app in (None, principal.name) and principal.kind == "app":
        return principal
    if body.app is None:
        raise Forbidden("name the app to explain for", reason="app_required")
    row = AuthRepository(session).by_name(body.app)
    if row is None or row.kind != "app":
        raise NotFound("no such app")
    return as_principal(row)


def explain(
    session: Session, ctx: RulesContext, principal: AuthPrincipal, body: ExplainRequest
) -> ExplainOut:
    dataset = CatalogRepository(session).dataset(body.dataset)
    if dataset is None:
        raise NotFound("no such dataset")
    facts = dataclasses.replace(dataset_resource(dataset, principal), asked_for=body.app)
    require("decision.explain", principal, facts)
    who = _subject(session, principal, body)
    check_spec(body.spec, DatasetView.of(dataset))
    result = decide_for(session, ctx, who.facts(), dataset, body.purpose, body.spec)
    rule = ctx.access.engine(session).matched_rule(who.name, who.domain, dataset.id, body.purpose)
    matched = (
        MatchedRule(role=rule[0], domain=rule[1], dataset=rule[2], purpose=rule[3])
        if rule
        else None
    )
    if isinstance(result, Decision):
        detail = dataclasses.asdict(result)
        detail["dp"] = result.dp.model_dump(mode="json") if result.dp else None
        detail["columns"] = {n: c.model_dump(mode="json") for n, c in result.columns.items()}
        return ExplainOut(
            allowed=True,
            reason_code="granted",
            message_zh=f"允许: 依据用途“{result.purpose}”的授权",
            message_en=f"allowed by the grant for '{result.purpose}'",
            policy_version=result.policy_version,
            matched_rule=matched,
            decision=detail,
        )
    return ExplainOut(
        allowed=False,
        reason_code=result.code,
        message_zh=result.message_zh,
        message_en=result.message_en,
        policy_version=result.policy_version,
        matched_rule=matched,
        decision=None,
    )

"""Reversing tokens: only the owning department, only for a tokenised column, always logged.

Tokens (AES-SIV, FF1) are keyed per (owning department, recipient app, dataset,
column), so no app and no other department can reverse them, two apps' tokens for
one person are unrelated, and a token reverses only under the dataset and column
that produced it: the log entry of a reversal cannot name another dataset or
column than the value came from (an AES-SIV token named under another one fails
authentication; an FF1 token gives a value that is not the original, which FF1,
being unauthenticated, cannot detect). The department names the app a token came
back from; the dataset's policy (now or in an earlier version) must release that
column tokenised to that app. The log records who reversed (or tried to reverse) a
token of which column for which app and why, never the token or the value; a
refused attempt is logged with outcome "refused" and changes nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final, cast

from sqlalchemy.orm import Session

from anonymizers import AnonymizerError
from anonymizers.tokens import TokenFormat, detokenise
from gateway.access.permissions import Resource, require, require_caller
from gateway.auditlog.service import record, record_in
from gateway.auth.repository import AuthRepository
from gateway.catalog.models import Dataset
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.service import dataset_policy
from gateway.context import GatewayContext
from gateway.errors import InvalidRequest, NotFound
from gateway.principal import AuthPrincipal
from gateway.tokens.schemas import ReverseOut, ReverseRequest
from policies import UsagePolicy

# The key version an AES-SIV token is labelled with (ASCII digits only).
_SIV_VERSION: Final = re.compile(r"t([1-9][0-9]{0,5})_", re.ASCII)


def _policies(session: Session, dataset: Dataset) -> Iterator[UsagePolicy]:
    """The current policy, then every earlier one: a token outlives a policy change."""
    yield dataset_policy(dataset)
    for row in CatalogRepository(session).earlier_policies(dataset):
        yield UsagePolicy.model_validate(row.document)


def _tokenised(session: Session, dataset: Dataset, column: str) -> bool:
    return any(
        (rule := purpose.columns.get(column)) is not None and rule.treatment == "tokenise"
        for policy in _policies(session, dataset)
        for purpose in policy.purposes
    )


def _token_params(
    session: Session, dataset: Dataset, column: str, recipient: str
) -> dict[str, Any] | None:
    """The column's tokenise params under a purpose granted to the app ``recipient``."""
    app = AuthRepository(session).by_name(recipient)
    if app is None or app.kind != "app":
        return None
    for policy in _policies(session, dataset):
        for rule in policy.purposes:
            treatment = rule.columns.get(column)
            granted = any(
                g.role == app.role and ("*" in g.domains or app.domain in g.domains)
                for g in rule.grantees
            )
            if granted and treatment is not None and treatment.treatment == "tokenise":
                return dict(treatment.params)
    return None


def _refuse(
    ctx: GatewayContext,
    principal: AuthPrincipal,
    body: ReverseRequest,
    rid: str,
    code: str,
    reason: str,
) -> InvalidRequest:
    """Log a refused reversal (committed on its own), and return the error to raise."""
    record(
        ctx,
        "token.reversed",
        principal,
        dataset=body.dataset,
        column=body.column,
        recipient=body.recipient,
        justification=body.justification,
        decision={"allowed": False, "reason_code": code},
        outcome="refused",
        request_id=rid,
    )
    return InvalidRequest(reason, reason=code)


def reverse(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal, body: ReverseRequest, rid: str
) -> ReverseOut:
    require_caller("token.reverse", principal)
    dataset = CatalogRepository(session).dataset(body.dataset)
    if dataset is None:
        raise NotFound("no such dataset")
    require("token.reverse", principal, Resource(owner=dataset.owner))
    if not _tokenised(session, dataset, body.column):
        raise InvalidRequest("this column is not tokenised by the dataset's policy")
    params = _token_params(session, dataset, body.column, body.recipient)
    if params is None:
        raise _refuse(
            ctx,
            principal,
            body,
            rid,
            "token_not_reversible",
            "数据集策略未向该应用以令牌形式发布此列 / "
            "the dataset's policy does not release this column tokenised to this app",
        )
    if body.key_version is not None and body.key_version not in ctx.keyring.masters:
        raise _refuse(
            ctx,
            principal,
            body,
            rid,
            "token_key_version_unknown",
            "令牌的密钥版本不存在 / the token's key version is not known",
        )
    ff1 = params.get("mode") == "ff1"
    version = body.key_version or ctx.keyring.current_version
    if not ff1:
        label = _SIV_VERSION.match(body.token)
        if label is None:
            raise _refuse(
                ctx,
                principal,
                body,
                rid,
                "token_unrecognised",
                "不是本数据集的令牌格式 / not a token of this dataset's format",
            )
        if body.key_version is not None and body.key_version != int(label.group(1)):
            raise _refuse(
                ctx,
                principal,
                body,
                rid,
                "token_not_reversible",
                "令牌的密钥版本与所给版本不符 / "
                "the token was made under another key version than the one given",
            )
        version = int(label.group(1))
    if version not in ctx.keyring.masters:
        raise _refuse(
            ctx,
            principal,
            body,
            rid,
            "token_key_version_unknown",
            "令牌的密钥版本不存在 / the token's key version is not known",
        )
    try:
        value = detokenise(
            body.token,
            ctx.keyring.master(version),
            version,
            dataset.owner,
            body.recipient,
            dataset=dataset.id,
            column=body.column,
            format=cast(TokenFormat, params.get("format", "digits")) if ff1 else None,
        )
    except (AnonymizerError, ValueError):
        raise _refuse(
            ctx,
            principal,
            body,
            rid,
            "token_not_reversible",
            "该令牌无法用本数据集该列和该应用的密钥还原 / "
            "the token cannot be reversed with this dataset column's key for this app",
        ) from None
    record_in(
        session,
        ctx,
        "token.reversed",
        principal,
        dataset=dataset.id,
        column=body.column,
        recipient=body.recipient,
        justification=body.justification,
        key_version=version,
        outcome="ok",
        request_id=rid,
    )
    return ReverseOut(value=value, key_version=version)

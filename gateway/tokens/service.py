"""Reversing tokens: only the owning department, only for a tokenised column, always logged.

Tokens (AES-SIV, FF1) are keyed per (owning department, recipient app), so no
app and no other department can reverse them, and two apps' tokens for one
person are unrelated. The department names the app a token came back from.
The log records who reversed (or tried to reverse) a token of which column
for which app and why, never the token or the value; a refused attempt is
logged with outcome "refused" and changes nothing else.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast

from sqlalchemy.orm import Session

from anonymizers import AnonymizerError
from anonymizers.tokens import TokenFormat, detokenise
from gateway.access.permissions import Resource, require, require_caller
from gateway.auditlog.service import record, record_in
from gateway.auth.principal import AuthPrincipal
from gateway.catalog.models import Dataset
from gateway.catalog.service import dataset_policy
from gateway.context import GatewayContext
from gateway.errors import InvalidRequest, NotFound
from gateway.tokens.schemas import ReverseOut, ReverseRequest

# The key version an AES-SIV token is labelled with (ASCII digits only).
_SIV_VERSION: Final = re.compile(r"t([1-9][0-9]{0,5})_", re.ASCII)


def _token_params(dataset: Dataset, column: str) -> dict[str, Any] | None:
    for rule in dataset_policy(dataset).purposes:
        treatment = rule.columns.get(column)
        if treatment is not None and treatment.treatment == "tokenise":
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
    dataset = session.get(Dataset, body.dataset)
    if dataset is None:
        raise NotFound("no such dataset")
    require("token.reverse", principal, Resource(owner=dataset.owner))
    params = _token_params(dataset, body.column)
    if params is None:
        raise InvalidRequest("this column is not tokenised by the dataset's policy")
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
            format=cast(TokenFormat, params.get("format", "digits")) if ff1 else None,
        )
    except (AnonymizerError, ValueError):
        raise _refuse(
            ctx,
            principal,
            body,
            rid,
            "token_not_reversible",
            "该令牌无法用本数据集和该应用的密钥还原 / "
            "the token cannot be reversed with this dataset's key for this app",
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

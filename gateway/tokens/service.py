"""Reversing tokens: only the owning department, only for a tokenised column, always logged.

Tokens (AES-SIV, FF1) are keyed per owning department, so no app and no other
department can reverse them. The log records who reversed a token of which
column and why, never the token or the value.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.orm import Session

from anonymizers import AnonymizerError
from anonymizers.tokens import TokenFormat, detokenise
from gateway.auditlog.service import record_in
from gateway.auth.principal import AuthPrincipal
from gateway.catalog.models import Dataset
from gateway.catalog.service import dataset_policy, require_department
from gateway.context import GatewayContext
from gateway.errors import InvalidRequest, NotFound
from gateway.tokens.schemas import ReverseOut, ReverseRequest


def _token_params(dataset: Dataset, column: str) -> dict[str, Any] | None:
    for rule in dataset_policy(dataset).purposes:
        treatment = rule.columns.get(column)
        if treatment is not None and treatment.treatment == "tokenise":
            return dict(treatment.params)
    return None


def reverse(
    session: Session, ctx: GatewayContext, principal: AuthPrincipal, body: ReverseRequest, rid: str
) -> ReverseOut:
    require_department(principal)
    dataset = session.get(Dataset, body.dataset)
    if dataset is None or dataset.owner != principal.domain:
        raise NotFound("no such dataset")
    params = _token_params(dataset, body.column)
    if params is None:
        raise InvalidRequest("this column is not tokenised by the dataset's policy")
    ff1 = params.get("mode") == "ff1"
    version = body.key_version or ctx.keyring.current_version
    if not ff1 and body.token.startswith("t") and "_" in body.token:
        prefix = body.token[1 : body.token.index("_")]
        version = int(prefix) if prefix.isdigit() else version
    try:
        value = detokenise(
            body.token,
            ctx.keyring.master(version),
            version,
            dataset.owner,
            format=cast(TokenFormat, params.get("format", "digits")) if ff1 else None,
        )
    except (AnonymizerError, ValueError, KeyError):
        raise InvalidRequest("the token cannot be reversed with this dataset's key") from None
    record_in(
        session,
        ctx,
        "token.reversed",
        principal,
        dataset=dataset.id,
        column=body.column,
        justification=body.justification,
        key_version=version,
        request_id=rid,
    )
    return ReverseOut(value=value, key_version=version)

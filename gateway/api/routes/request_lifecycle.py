"""HTTP routes of the catalogue's lifecycle: retiring, previewing and replacing policies.

They sit with the requests because each may close query requests (see lifecycle.py);
their paths and bodies belong to the catalogue (tag ``catalog``).
"""

from __future__ import annotations

from gateway.api.dependencies import Context, CurrentPrincipal, DbSession
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.catalog.schemas import (
    DatasetOut,
    DatasetRetirementOut,
    PolicyPreviewOut,
    PolicyUpdate,
    Retirement,
    SourceRetirementOut,
)
from gateway.requests import lifecycle

router = api_router(prefix="/v1", tags=["catalog"], responses=ERRORS)


@router.post(
    "/sources/{source_id}/retire",
    summary="Retire a source and its datasets; their approved queries are revoked (owner)",
)
def retire_source(
    source_id: str, body: Retirement, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> SourceRetirementOut:
    return lifecycle.retire_source(session, ctx, who, source_id, body.reason)


@router.post(
    "/datasets/{dataset_id}/retire",
    summary="Retire a dataset; its approved queries are revoked (owner)",
)
def retire_dataset(
    dataset_id: str, body: Retirement, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> DatasetRetirementOut:
    return lifecycle.retire_dataset(session, ctx, who, dataset_id, body.reason)


@router.put(
    "/datasets/{dataset_id}/policy",
    summary="Replace a dataset's usage policy; approved queries it breaks are revoked",
)
def put_policy(
    dataset_id: str, body: PolicyUpdate, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> DatasetOut:
    return lifecycle.replace_policy(session, ctx, who, dataset_id, body.policy)


@router.post(
    "/datasets/{dataset_id}/policy/preview",
    summary="What replacing the policy would do: the diff and the queries it breaks (owner)",
)
def preview_policy(
    dataset_id: str, body: PolicyUpdate, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> PolicyPreviewOut:
    return lifecycle.preview_policy(session, ctx, who, dataset_id, body.policy)

"""HTTP routes of the catalog (thin: parse, call the service, return)."""

from __future__ import annotations

from gateway.api.dependencies import Context, CurrentPrincipal, DbSession, EpsilonLeftLookup
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.catalog import service
from gateway.catalog.schemas import (
    ColumnFindingOut,
    DatasetCreate,
    DatasetOut,
    PurposeNodeOut,
    SourceCreate,
    SourceOut,
)

router = api_router(prefix="/v1", tags=["catalog"], responses=ERRORS)


@router.post("/sources", status_code=201, summary="Register a department database")
def create_source(
    body: SourceCreate, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> SourceOut:
    return service.register_source(session, ctx, who, body)


@router.get("/sources", summary="The calling department's sources")
def list_sources(session: DbSession, who: CurrentPrincipal) -> list[SourceOut]:
    return service.list_sources(session, who)


@router.post("/datasets", status_code=201, summary="Register a dataset with its usage policy")
def create_dataset(
    body: DatasetCreate, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> DatasetOut:
    return service.register_dataset(session, ctx, who, body)


@router.get("/datasets", summary="The catalog the caller may see")
def list_datasets(
    session: DbSession, who: CurrentPrincipal, left: EpsilonLeftLookup
) -> list[DatasetOut]:
    return service.list_datasets(session, who, left)


@router.get("/purposes", summary="The purpose hierarchy, with Chinese and English names")
def list_purposes(ctx: Context, who: CurrentPrincipal) -> list[PurposeNodeOut]:
    return service.list_purposes(ctx, who)


@router.get("/datasets/{dataset_id}", summary="One dataset")
def get_dataset(
    dataset_id: str, session: DbSession, who: CurrentPrincipal, left: EpsilonLeftLookup
) -> DatasetOut:
    return service.dataset_out(service.get_dataset(session, who, dataset_id), who, (session, left))


# PUT /datasets/{dataset_id}/policy lives in gateway/api/routes/request_lifecycle.py: a
# replacement revokes the approved queries it breaks, and the catalog imports no requests.


@router.get("/datasets/{dataset_id}/scan", summary="Sample the dataset for unlabelled PII (owner)")
def scan_dataset(
    dataset_id: str, session: DbSession, ctx: Context, who: CurrentPrincipal
) -> list[ColumnFindingOut]:
    return service.scan_registered(session, ctx, who, dataset_id)

"""HTTP route to run an approved query; the pipeline is gateway/runs/pipeline.py."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.api.dependencies import Context, CurrentPrincipal, RequestId
from gateway.api.schemas import ERRORS
from gateway.queries.schemas import RunRequest, RunResult
from gateway.runs.context import RunContext
from gateway.runs.pipeline import run_query

router = APIRouter(prefix="/v1/queries", tags=["queries"], responses=ERRORS)


@router.post("/{query_request}/run", summary="Run an approved query with parameter values (apps)")
def run(
    query_request: str,
    body: RunRequest,
    request: Request,
    ctx: Context,
    who: CurrentPrincipal,
    rid: RequestId,
) -> RunResult:
    client = request.client.host if request.client else None
    run = RunContext(request_id=rid, client=client)
    return run_query(ctx, who, query_request, body.params, run)

"""HTTP route to run an approved query; the pipeline is gateway/runs/pipeline.py.

The busiest route: it is ``async`` and hands the whole pipeline (authentication
included) to one worker thread, instead of one thread hop per sync dependency and
another for the endpoint, and it writes its answer with the model's own serializer
(the result is built from validated parts, so FastAPI's second validation is skipped).

The hop goes to this route's own threads (gateway/api/run_threads.py): one queue entry
per call and the result set straight on the event loop, with the request's context
carried over. Their number stays within the store's connection pool.
"""

from __future__ import annotations

import functools

from fastapi import Request
from fastapi.responses import Response

from gateway.api.dependencies import BearerToken, request_id_of
from gateway.api.json_body import api_router
from gateway.api.run_threads import RunThreads
from gateway.api.schemas import ERRORS
from gateway.context import GatewayContext
from gateway.errors import InvalidRequest
from gateway.queries.schemas import RunRequest, RunResult
from gateway.runs.context import RunContext
from gateway.runs.pipeline import run_query

RUN_THREADS = 16
_RUNS = RunThreads(RUN_THREADS, "cdg-run")

router = api_router(prefix="/v1/queries", tags=["queries"], responses=ERRORS)


@router.post(
    "/{query_request}/run",
    summary="Run an approved query with parameter values (apps)",
    response_model=RunResult,
)
async def run(
    query_request: str,
    request: Request,
    api_key: BearerToken,
    # Optional: a query whose parameters all have defaults runs with no body at all.
    body: RunRequest | None = None,
) -> Response:
    # The context and the request id are read here rather than as dependencies: each
    # dependency FastAPI resolves costs the busiest route time on the event loop.
    if body is None and await request.body():  # JSON null: a body, but no run request
        raise InvalidRequest("body: the run request must be an object, e.g. {\"params\": {}}")
    ctx: GatewayContext = request.app.state.ctx
    client = request.client.host if request.client else None
    context = RunContext(request_id=request_id_of(request), client=client)
    call = functools.partial(
        run_query, ctx, api_key, query_request, body.params if body else {}, context
    )
    result = await _RUNS.call(call)
    return Response(result.model_dump_json(), media_type="application/json")

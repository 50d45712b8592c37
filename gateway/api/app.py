"""The FastAPI application: routers of every domain, one error shape, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import Response

import gateway
from gateway import metrics
from gateway.api import errors
from gateway.api.dependencies import reject_nul_characters
from gateway.api.limits import BodyLimitMiddleware
from gateway.api.metrics import MetricsMiddleware
from gateway.api.middleware import RequestIdMiddleware
from gateway.api.openapi import install as install_docs
from gateway.api.query_params import reject_unknown_query_parameters
from gateway.api.routes.access import router as decisions_router
from gateway.api.routes.auditlog import public_router, subjects_router
from gateway.api.routes.auditlog import router as audit_router
from gateway.api.routes.auth import router as auth_router
from gateway.api.routes.budget import router as budget_router
from gateway.api.routes.catalog import router as catalog_router
from gateway.api.routes.request_lifecycle import router as lifecycle_router
from gateway.api.routes.requests import router as requests_router
from gateway.api.routes.runs import router as runs_router
from gateway.api.routes.tokens import router as tokens_router
from gateway.api.routes.webhooks import router as webhooks_router
from gateway.console import mount as mount_console
from gateway.context import GatewayContext
from gateway.settings import Settings, load_settings
from gateway.webhooks.worker import DeliveryWorker


def create_app(settings: Settings | None = None, ctx: GatewayContext | None = None) -> FastAPI:
    context = ctx or GatewayContext.open(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        context.audit.start()  # a serving gateway signs checkpoints even while idle
        worker = DeliveryWorker(context.store, context.keyring, context.settings)
        if context.settings.webhook_worker:
            worker.start()
        try:
            yield
        finally:
            worker.stop()
            if ctx is None:  # a context handed in belongs to the caller
                context.close()

    app = FastAPI(
        title="Community Data Gateway 社区数据共享网关",
        version=gateway.__version__,
        description=(
            "Departments register datasets with usage policies; community apps request "
            "queries for a declared purpose and run them once approved. Every access is logged."
        ),
        lifespan=lifespan,
        docs_url=None,  # served by gateway.api.openapi from the package, not a CDN
        redoc_url=None,
        dependencies=[Depends(reject_nul_characters), Depends(reject_unknown_query_parameters)],
        # A path with a slash too many or too few is a 404 in the error shape, not a 307 to
        # the other spelling, whose absolute Location Starlette builds from the client's Host
        # header. /console -> /console/ is a route of its own (gateway/console/mount.py).
        redirect_slashes=False,
    )
    app.state.ctx = context
    errors.install(app)
    install_docs(app)
    # Innermost first: the body limit, then the catch-all for unexpected errors (inside the
    # request id, which it logs), metrics, and the request id outermost.
    app.add_middleware(BodyLimitMiddleware, max_bytes=context.settings.max_body_bytes)
    app.add_middleware(errors.UnexpectedErrorMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    # Routes are matched in order: the run route, by far the busiest, is tried first.
    for router in (
        runs_router,
        auth_router,
        catalog_router,
        lifecycle_router,
        requests_router,
        budget_router,
        decisions_router,
        tokens_router,
        webhooks_router,
        audit_router,
        subjects_router,
        public_router,
    ):
        app.include_router(router)

    mount_console(app)  # the web console at /console/ (gateway/console, docs/console.md)

    @app.get("/healthz", tags=["operations"], summary="Liveness and store reachability")
    def healthz() -> dict[str, str]:
        context.store.ping()
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics_text() -> Response:
        info = f'cdg_info{{version="{gateway.__version__}"}} 1\n'.encode()
        return Response(info + metrics.render(), media_type=metrics.CONTENT_TYPE)

    return app

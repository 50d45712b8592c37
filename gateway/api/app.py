"""The FastAPI application: routers of every domain, one error shape, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse

import gateway
from gateway.access.routes import router as decisions_router
from gateway.api import errors
from gateway.api.dependencies import reject_nul_characters
from gateway.api.limits import BodyLimitMiddleware
from gateway.api.metrics import Metrics, MetricsMiddleware
from gateway.api.middleware import RequestIdMiddleware
from gateway.auditlog.routes import public_router, subjects_router
from gateway.auditlog.routes import router as audit_router
from gateway.auth.routes import router as auth_router
from gateway.budget.routes import router as budget_router
from gateway.catalog.routes import router as catalog_router
from gateway.console import mount as mount_console
from gateway.context import GatewayContext
from gateway.requests.routes import router as requests_router
from gateway.runs.routes import router as runs_router
from gateway.settings import Settings, load_settings
from gateway.tokens.routes import router as tokens_router


def create_app(settings: Settings | None = None, ctx: GatewayContext | None = None) -> FastAPI:
    context = ctx or GatewayContext.open(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        context.audit.start()  # a serving gateway signs checkpoints even while idle
        yield
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
        dependencies=[Depends(reject_nul_characters)],
    )
    app.state.ctx = context
    errors.install(app)
    metrics = Metrics()
    # Innermost first: the body limit, then the catch-all for unexpected errors (inside the
    # request id, which it logs), metrics, and the request id outermost.
    app.add_middleware(BodyLimitMiddleware, max_bytes=context.settings.max_body_bytes)
    app.add_middleware(errors.UnexpectedErrorMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    for router in (
        auth_router,
        catalog_router,
        requests_router,
        runs_router,
        budget_router,
        decisions_router,
        tokens_router,
        audit_router,
        subjects_router,
        public_router,
    ):
        app.include_router(router)

    mount_console(app)  # the web console at /console/ (gateway/console, docs/console.md)

    @app.get("/healthz", tags=["operations"], summary="Liveness and store reachability")
    def healthz() -> dict[str, str]:
        with context.store.sessions() as session:
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics_text() -> str:
        return f'cdg_info{{version="{gateway.__version__}"}} 1\n' + metrics.render()

    return app
